// What a handler author needs (handler protocols, item, context, errors, clock) lives in
// WorkQueueCore, which has no runner, SwiftNIO or metrics in it, and typed items in
// WorkQueueTyped; `import WorkQueue` brings both.
@_exported import WorkQueueCore
@_exported import WorkQueueTyped
