import Foundation
import Logging
import PostgresNIO
import Storage
import Testing

/// The two stores every store test runs against. PostgreSQL comes from `KNIFY_TEST_POSTGRES` (`make test` starts a
/// server and sets it); each test gets a database of its own, dropped afterwards.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// One store on a fresh database.
    func withStore(_ body: (any Store) async throws -> Void) async throws {
        try await withStores(1) { try await body($0[0]) }
    }

    /// `count` stores on one fresh database, as separate processes (or a restart) would open it.
    func withStores(_ count: Int, _ body: ([any Store]) async throws -> Void) async throws {
        switch self {
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("knify-store-\(UUID().uuidString)/knify.sqlite").path
            var stores: [any Store] = []
            for _ in 0..<count { stores.append(try SQLiteStore(path: path)) }
            try await body(stores)
        case .postgres:
            try await PostgresTestDatabase.with { url in
                var stores: [any Store] = []
                do {
                    for _ in 0..<count { stores.append(try await PostgresStore(url: url)) }
                    try await body(stores)
                } catch {
                    for store in stores { await store.close() }
                    throw error
                }
                for store in stores { await store.close() }
            }
        }
    }
}

/// Creates a throwaway database on the test server and drops it after the body, whatever happened.
enum PostgresTestDatabase {
    static func serverURL() throws -> URLComponents {
        guard let text = ProcessInfo.processInfo.environment["KNIFY_TEST_POSTGRES"], let url = URLComponents(string: text) else {
            throw StorageError(.unavailable, "KNIFY_TEST_POSTGRES is not set: run `make postgres` (or `make test`, which starts it and sets it)")
        }
        return url
    }

    static func with(_ body: (String) async throws -> Void) async throws {
        var url = try serverURL()
        let name = "knify_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let logger = Logger(label: "knify.tests.postgres")
        let configuration = PostgresConnection.Configuration(
            host: url.host ?? "127.0.0.1", port: url.port ?? 5432, username: url.user ?? "knify", password: url.password,
            database: String(url.path.dropFirst()), tls: .disable)
        let admin = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        url.path = "/" + name
        let target = url.string ?? ""
        do {
            try await body(target)
        } catch {
            try? await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
            try? await admin.close()
            throw error
        }
        try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        try await admin.close()
    }
}
