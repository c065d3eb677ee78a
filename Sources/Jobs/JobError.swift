import Storage

/// The one error type of the Jobs layer; the HTTP edge maps `code` to the API's error codes once.
public struct JobError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable { case invalidSpec, notFound, conflict, tooLarge, sandbox, store, storageFull, internalError }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        public var description: String { value.rawValue }

        /// 400 BAD_REQUEST.
        public static let invalidSpec = Code(.invalidSpec)
        /// 404 NOT_FOUND (also for another tenant's job).
        public static let notFound = Code(.notFound)
        /// 409 CONFLICT: the job is in a state that does not allow the request.
        public static let conflict = Code(.conflict)
        /// 413 PAYLOAD_TOO_LARGE: an upload over its cap.
        public static let tooLarge = Code(.tooLarge)
        /// 500 SANDBOX_ERROR, or 503 SANDBOX_UNAVAILABLE when `engineUnavailable`.
        public static let sandbox = Code(.sandbox)
        public static let store = Code(.store)
        /// 507 STORAGE_FULL: the disk under the store or the workspaces is full; retrying after space is freed works.
        public static let storageFull = Code(.storageFull)
        public static let internalError = Code(.internalError)
    }

    public let code: Code
    public let message: String
    /// The engine did not answer (503 rather than 500).
    public let engineUnavailable: Bool
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, engineUnavailable: Bool = false, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.engineUnavailable = engineUnavailable
        self.cause = cause
    }

    public var description: String { cause.map { "\(message) [\($0)]" } ?? message }
}

extension JobError {
    /// A failed store call: a full disk says so (the operator can act on it); anything else is the store failing.
    init(store error: any Error) {
        if let error = error as? StorageError, error.code == .full {
            self.init(.storageFull, "Knify's data disk is full: nothing was recorded; free space in its data directory and retry", cause: error)
        } else {
            self.init(.store, "the job store failed", cause: error)
        }
    }
}
