import DockerEngine

/// The one error type of the Sandboxes layer.
public struct SandboxError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case engineUnavailable, image, policy, notFound, invalidState, engine, timeout, store
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        public var description: String { value.rawValue }

        /// The Docker engine does not answer: fail fast, retry later.
        public static let engineUnavailable = Code(.engineUnavailable)
        /// The sandbox image is missing or cannot be built.
        public static let image = Code(.image)
        public static let policy = Code(.policy)
        public static let notFound = Code(.notFound)
        public static let invalidState = Code(.invalidState)
        /// Any other engine failure.
        public static let engine = Code(.engine)
        public static let timeout = Code(.timeout)
        /// The injected store failed.
        public static let store = Code(.store)
    }

    public let code: Code
    public let message: String
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        cause.map { "\(message) [\($0)]" } ?? message
    }

    /// Maps an engine error once, keeping it as the cause.
    init(_ message: String, docker error: DockerError) {
        self.init(error.code == .engineUnavailable ? .engineUnavailable : .engine, message, cause: error)
    }
}
