import ArgumentParser
import WorkQueue

/// `workqueue settings` (hidden): every setting's flag, variable and default, as declared in
/// ``Catalog``; with `--markdown`, the settings tables of docs/commands.md, markers included, to paste
/// over those of docs/commands.md (a test fails while they differ).
struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "List every setting: its flag, environment variable and default (--markdown: the tables of docs/commands.md).",
        shouldDisplay: false
    )

    @Flag(name: Catalog.settingsMarkdown.name, help: Catalog.settingsMarkdown.help)
    var markdown = false

    func run() throws {
        if markdown {
            StandardOutput.line(Catalog.markdownBegin + "\n\n" + Catalog.markdown + "\n\n" + Catalog.markdownEnd)
            return
        }
        for setting in Catalog.all {
            StandardOutput.line([setting.flag, setting.variable ?? "-", setting.defaultText ?? "-"].joined(separator: "\t"))
        }
        // The flags that read no variable, each with its command (`--interval` is three commands').
        for setting in Catalog.flagsOnly {
            StandardOutput.line([(setting.command.map { $0 + " " } ?? "") + setting.flag, "-", setting.defaultText ?? "-"]
                .joined(separator: "\t"))
        }
    }
}
