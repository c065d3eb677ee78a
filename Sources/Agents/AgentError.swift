import Foundation

/// The Agents layer's one error: a stable code the HTTP edge maps to a status, and a message for people.
public struct AgentError: Error, Sendable, CustomStringConvertible {
    /// A closed set of codes, extensible without breaking callers (a struct over a private enum).
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case unknownJobType
            case invalidModel
            case invalidSpec
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The job type names no agent (`cursor_task`, `claude_task`, `gemini_task` do).
        public static let unknownJobType = Code(.unknownJobType)
        /// The model is not on the agent's allow-list.
        public static let invalidModel = Code(.invalidModel)
        /// Another part of the spec (prompt, session id) cannot be handed to the CLI.
        public static let invalidSpec = Code(.invalidSpec)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String
    public let cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        cause.map { "\(code): \(message) (\($0))" } ?? "\(code): \(message)"
    }
}
