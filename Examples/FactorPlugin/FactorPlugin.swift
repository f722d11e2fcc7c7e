import FactorHandler
import WorkQueuePluginKit

/// libFactorPlugin.so: the `factor` handler as a plugin (`workqueue work --plugin libFactorPlugin.so`).
@_cdecl("workqueue_plugin_entry") public func entry() -> UnsafeRawPointer { PluginExport.table(for: Factor.self) }
