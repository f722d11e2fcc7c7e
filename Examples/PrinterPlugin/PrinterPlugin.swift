import PrinterHandler
import WorkQueuePluginKit

/// libPrinterPlugin.so: the `printer` handler as a plugin (`workqueue work --plugin libPrinterPlugin.so`).
@_cdecl("workqueue_plugin_entry") public func entry() -> UnsafeRawPointer { PluginExport.table(for: Printer.self) }
