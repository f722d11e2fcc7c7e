/// A refusal of `worker-image`: the message says what is wrong and what to do.
struct WorkerImageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
