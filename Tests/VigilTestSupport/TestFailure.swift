/// What a test helper throws when the system under test did not do what the test waited for (a
/// timeout, a child that exited, a missing tool); the description says which.
public struct TestFailure: Error, CustomStringConvertible {
    /// What the test waited for and what happened instead.
    public let description: String

    /// A failure reading `description`.
    public init(_ description: String) {
        self.description = description
    }
}
