import WordCountHandler
import WorkQueuePluginKit

/// libWordCountPlugin.so: the typed `wordcount` handler as a plugin
/// (`workqueue work --plugin libWordCountPlugin.so`); an item that does not decode is
/// dead-lettered at once, as with the handler compiled in.
@_cdecl("workqueue_plugin_entry") public func entry() -> UnsafeRawPointer { PluginExport.table(for: WordCount.self) }
