import ArgumentParser

/// `workqueue`: the worker and its queue tools.
@main
struct WorkQueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workqueue",
        abstract: "A worker for the Kubernetes work-queue pattern, and tools for its Redis queue.",
        discussion: """
            Every flag also reads an environment variable (the flag wins), so a Kubernetes \
            manifest can configure the worker with env only. Run `workqueue help <command>` \
            for each command's variables.
            """,
        subcommands: [Work.self, Push.self, Status.self, Dead.self, Reap.self, Handlers.self]
    )
}
