// What a handler author needs (handler protocols, item, context, errors, clock) lives in
// WorkQueueCore, which has no runner, SwiftNIO or metrics in it; `import WorkQueue` brings it too.
@_exported import WorkQueueCore
