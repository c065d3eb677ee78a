import Jobs

/// The one error type of the Knaps layer; the HTTP edge maps `code` to a status and `{"detail": message}` once.
public struct KnapError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable { case invalid, unauthorized, forbidden, notFound, conflict, unavailable, internalError }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        public var description: String { value.rawValue }

        /// 400.
        public static let invalid = Code(.invalid)
        /// 401: bad client credentials or token.
        public static let unauthorized = Code(.unauthorized)
        /// 403: visible, but not the caller's to change.
        public static let forbidden = Code(.forbidden)
        /// 404: absent, or not visible to the caller.
        public static let notFound = Code(.notFound)
        /// 409: the chat's last turn is still running, or its sandbox is gone.
        public static let conflict = Code(.conflict)
        /// 503: the sandbox engine is down.
        public static let unavailable = Code(.unavailable)
        /// 500.
        public static let internalError = Code(.internalError)
    }

    public let code: Code
    public let message: String
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { cause.map { "\(message) [\($0)]" } ?? message }

    /// A job's refusal, in this layer's terms.
    init(job error: JobError) {
        switch error.code {
        case .invalidSpec, .tooLarge: self.init(.invalid, error.message, cause: error)
        case .notFound: self.init(.notFound, error.message, cause: error)
        case .conflict: self.init(.conflict, error.message, cause: error)
        case .sandbox where error.engineUnavailable: self.init(.unavailable, error.message, cause: error)
        default: self.init(.internalError, "the run could not be started", cause: error)
        }
    }

    static func store(_ error: any Error) -> KnapError { KnapError(.internalError, "the knap store failed", cause: error) }
}

/// Runs a store call, turning its failure into this layer's error.
func storeCall<T>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T) async throws(KnapError) -> T {
    do {
        return try await body()
    } catch {
        throw KnapError.store(error)
    }
}

/// Runs a Jobs call, turning its failure into this layer's error.
func jobCall<T>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T) async throws(KnapError) -> T {
    do {
        return try await body()
    } catch let error as JobError {
        throw KnapError(job: error)
    } catch {
        throw KnapError(.internalError, "the run could not be started", cause: error)
    }
}
