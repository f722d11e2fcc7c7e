// What a handler author needs (handler protocols, item, context, errors, clock) lives in
// WorkQueueCore, which has no runner, SwiftNIO or metrics in it, typed items in WorkQueueTyped,
// and the queue-backend seam in WorkQueueSeam; `import WorkQueue` brings all three.
@_exported import WorkQueueCore
@_exported import WorkQueueSeam
@_exported import WorkQueueTyped
