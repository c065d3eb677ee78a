/// The one error type of the DockerEngine layer. Callers switch on `code`; `status` is the engine's HTTP status when
/// the engine answered, and `message` is the engine's own `{"message"}` text when it gave one.
public struct DockerError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case engineUnavailable, notFound, conflict, badRequest, notModified, serverError, unexpectedStatus
            case transport, decoding, cancelled, streamError, buildFailed, invalidArgument
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        public var description: String { value.rawValue }

        /// Nothing answers on the socket (missing, refused, or the engine closed the connection).
        public static let engineUnavailable = Code(.engineUnavailable)
        public static let notFound = Code(.notFound)
        /// 409: a name already in use, removing a running container, exec into a paused one.
        public static let conflict = Code(.conflict)
        public static let badRequest = Code(.badRequest)
        /// 304 where the caller asked to hear about it; most calls treat 304 as success.
        public static let notModified = Code(.notModified)
        public static let serverError = Code(.serverError)
        public static let unexpectedStatus = Code(.unexpectedStatus)
        /// A libcurl failure other than "could not connect".
        public static let transport = Code(.transport)
        public static let decoding = Code(.decoding)
        public static let cancelled = Code(.cancelled)
        /// The engine reported an error inside a stream (exec stream 3, an `error` line in build output).
        public static let streamError = Code(.streamError)
        public static let buildFailed = Code(.buildFailed)
        public static let invalidArgument = Code(.invalidArgument)
    }

    public let code: Code
    public let message: String
    public let status: Int?
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, status: Int? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.cause = cause
    }

    public var description: String {
        var text = "docker \(code)"
        if let status { text += " (HTTP \(status))" }
        text += ": \(message)"
        if let cause { text += " [\(cause)]" }
        return text
    }

    /// Maps an engine reply status to a code; the message is the engine's `{"message"}` when present.
    static func fromStatus(_ status: Int, body: [UInt8], context: String) -> DockerError {
        let engineMessage = EngineMessage.decode(body) ?? String(decoding: body.prefix(512), as: UTF8.self)
        let text = engineMessage.isEmpty ? context : "\(context): \(engineMessage)"
        let code: Code
        switch status {
        case 304: code = .notModified
        case 400: code = .badRequest
        case 404: code = .notFound
        case 409: code = .conflict
        case 500...599: code = .serverError
        default: code = .unexpectedStatus
        }
        return DockerError(code, text, status: status)
    }
}
