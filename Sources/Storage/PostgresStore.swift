import Foundation
import Logging
import PostgresNIO

/// A cluster's shared store: PostgreSQL through postgres-nio. Each record is kept whole as JSON (`doc`, the same
/// Codable shape the rest of Knify uses) beside the columns that queries filter, order or lock by, so the SQL stays
/// small and a record gains fields without a migration. Pooled connections serve queries; two dedicated sessions
/// carry what belongs to a session: `LISTEN` (change notifications) and advisory locks (the coordinator).
public final class PostgresStore: Store, Sendable {
    let client: PostgresClient
    let configuration: PostgresClient.Configuration
    let logger: Logger
    let changeFeed = ChangeFeed()
    let sessions: Sessions
    private let runner: Task<Void, Never>
    static let channel = "knify_changes"

    /// Connects to `postgres://user[:password]@host[:port]/database` (no TLS: loopback or a private network) and brings
    /// the schema up to date.
    public init(url: String, logger: Logger = Logger(label: "knify.store")) async throws(StorageError) {
        configuration = try Self.configuration(url)
        self.logger = logger
        // The pool logs its own connection churn at info and warning; what matters reaches us as thrown errors.
        var background = logger
        background.logLevel = .error
        let client = PostgresClient(configuration: configuration, backgroundLogger: background)
        self.client = client
        runner = Task { await client.run() }
        sessions = Sessions(configuration: configuration, logger: logger)
        do {
            try await migrate()
        } catch {
            await close()
            throw error
        }
        await sessions.startListening(into: changeFeed)
    }

    /// Ends the pool, the dedicated sessions (releasing any advisory lock) and every `changes()` stream. Idempotent.
    public func close() async {
        await sessions.close()
        changeFeed.finish()
        runner.cancel()
        await runner.value
    }

    static func configuration(_ url: String) throws(StorageError) -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty, let user = components.user, !user.isEmpty else {
            throw StorageError(.unavailable, "a PostgreSQL store is postgres://user[:password]@host[:port]/database")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        var configuration = PostgresClient.Configuration(host: host, port: components.port ?? 5432, username: user,
                                                         password: components.password?.removingPercentEncoding,
                                                         database: database.isEmpty ? user : database, tls: .disable)
        configuration.options.maximumConnections = 10
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}

// MARK: - Queries

extension PostgresStore {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    static func doc(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    /// Runs a statement; `what` names it in errors.
    func execute(_ what: String, _ query: PostgresQuery) async throws(StorageError) {
        _ = try await call(what) { try await client.query(query, logger: logger) }
    }

    /// Rows whose only column is a record's `doc::text`, decoded.
    func records<T: Decodable>(_ what: String, _ type: T.Type, _ query: PostgresQuery) async throws(StorageError) -> [T] {
        try await call(what) {
            var found: [T] = []
            for try await text in try await client.query(query, logger: logger).decode(String.self) {
                found.append(try Self.decode(type, text))
            }
            return found
        }
    }

    func record<T: Decodable>(_ what: String, _ type: T.Type, _ query: PostgresQuery) async throws(StorageError) -> T? {
        try await records(what, type, query).first
    }

    /// One transaction: committed when `body` returns, rolled back when it throws.
    func transaction<T>(_ what: String, _ body: (PostgresConnection) async throws -> sending T) async throws(StorageError) -> sending T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch {
            throw Self.storageError(what, error)
        }
    }

    /// Reads one row's record for update, lets `change` alter it and writes the document back, in one transaction.
    /// False when there is no such row or `change` declines (returns false). Table and column are constants of ours.
    func modify<T: Codable>(_ what: String, _ type: T.Type, table: String, key: String, _ id: String,
                            _ change: @escaping @Sendable (inout T) -> Bool) async throws(StorageError) -> Bool {
        var bindings = PostgresBindings()
        bindings.append(id)
        return try await transaction(what) { connection in
            guard var record = try await connection.records(type, PostgresQuery(unsafeSQL: """
                SELECT doc::text FROM \(table) WHERE \(key) = $1 FOR UPDATE
                """, binds: bindings), logger: logger).first, change(&record) else { return false }
            var update = PostgresBindings()
            update.append(try Self.doc(record))
            update.append(id)
            try await connection.query(PostgresQuery(unsafeSQL: "UPDATE \(table) SET doc = $1::jsonb WHERE \(key) = $2", binds: update),
                                       logger: logger)
            return true
        }
    }

    func call<T>(_ what: String, _ body: () async throws -> T) async throws(StorageError) -> T {
        do {
            return try await body()
        } catch {
            throw Self.storageError(what, error)
        }
    }

    /// A unique violation is a conflict (a duplicate id, a slot already run); everything else means the database
    /// cannot be used right now. postgres-nio's transaction error wraps the statement's own.
    static func storageError(_ what: String, _ error: any Error) -> StorageError {
        if let error = error as? StorageError { return error }
        if let transaction = error as? PostgresTransactionError, let inner = transaction.closureError {
            return storageError(what, inner)
        }
        if let error = error as? PSQLError, error.serverInfo?[.sqlState] == "23505" {
            return StorageError(.conflict, "\(what): conflicts with what is stored", cause: error)
        }
        if let error = error as? PSQLError, error.serverInfo?[.sqlState] == "53100" {  // disk_full
            return StorageError(.full, "\(what): the database server's disk is full", cause: error)
        }
        if let error = error as? DecodingError {
            return StorageError(.corrupt, "\(what): a stored record cannot be read", cause: error)
        }
        return StorageError(.unavailable, "\(what) failed", cause: error)
    }
}

extension PostgresConnection {
    /// Rows of `doc::text` within a transaction.
    func records<T: Decodable>(_ type: T.Type, _ query: PostgresQuery, logger: Logger) async throws -> [T] {
        var found: [T] = []
        for try await text in try await self.query(query, logger: logger).decode(String.self) {
            found.append(try PostgresStore.decode(type, text))
        }
        return found
    }

    /// Values of one column within a transaction.
    func values<T: PostgresDecodable & Sendable>(_ type: T.Type, _ query: PostgresQuery, logger: Logger) async throws -> [T] {
        var found: [T] = []
        for try await value in try await self.query(query, logger: logger).decode(T.self) { found.append(value) }
        return found
    }
}
