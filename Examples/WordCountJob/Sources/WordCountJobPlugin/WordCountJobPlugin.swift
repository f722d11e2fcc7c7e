import WordCount
import WorkQueuePluginKit

/// libWordCountJobPlugin.so: `word-count` for the stock image (`workqueue work --plugin FILE`).
@_cdecl("workqueue_plugin_entry") public func entry() -> UnsafeRawPointer { PluginExport.table(for: WordCount.self) }
