// The seam's types are built from the handler-facing ones (WorkItem, WorkQueueError, the
// clock): `import WorkQueueSeam` brings them.
@_exported import WorkQueueCore
