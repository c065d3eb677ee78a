/// The one error type of the SandboxPolicy layer: names the file, the field and the offending value.
public struct PolicyError: Error, Sendable, CustomStringConvertible, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case unreadable, malformed, missingField, invalidValue, unknownPolicy, compile
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        public var description: String { value.rawValue }

        public static let unreadable = Code(.unreadable)
        /// Not JSON, or a field of the wrong type.
        public static let malformed = Code(.malformed)
        public static let missingField = Code(.missingField)
        public static let invalidValue = Code(.invalidValue)
        public static let unknownPolicy = Code(.unknownPolicy)
        /// libseccomp refused the profile.
        public static let compile = Code(.compile)
    }

    public let code: Code
    public let file: String
    /// A JSON path such as `syscalls[3].names[0]`; empty for the whole file.
    public let field: String
    public let value: String?
    public let message: String

    public init(_ code: Code, file: String, field: String = "", value: String? = nil, _ message: String) {
        self.code = code
        self.file = file
        self.field = field
        self.value = value
        self.message = message
    }

    public var description: String {
        var text = file
        if !field.isEmpty { text += ": \(field)" }
        if let value { text += " = \(value)" }
        return "\(text): \(message)"
    }
}

/// Something a policy or profile does that works but deserves a look (a syscall this libseccomp does not know).
public struct PolicyWarning: Sendable, CustomStringConvertible, Equatable {
    public let file: String
    public let field: String
    public let message: String

    public var description: String { "\(file): \(field): \(message)" }
}
