import Foundation

/// Where the store lives, as `--store` names it: `sqlite:PATH` (one machine) or `postgres://user@host:port/db` (a
/// cluster's shared store).
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(url: String)

    public init(parsing text: String) throws(StorageError) {
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw StorageError(.unavailable, "--store sqlite: needs a path, as in sqlite:.knify/data/knify.sqlite") }
            self = .sqlite(path: path)
        } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            self = .postgres(url: text)
        } else {
            throw StorageError(.unavailable, "--store must be sqlite:PATH or postgres://user@host:port/database")
        }
    }

    /// Shared by several processes: jobs go through the store's queue and nodes coordinate through it.
    public var isShared: Bool {
        if case .postgres = self { return true }
        return false
    }

    /// For logs and `nodes ls`: the path, or the URL without its password.
    public var description: String {
        switch self {
        case .sqlite(let path): return "sqlite:\(path)"
        case .postgres(let url):
            guard var components = URLComponents(string: url) else { return "postgres://…" }
            if components.password != nil { components.password = "***" }
            return components.string ?? "postgres://…"
        }
    }

    /// Opens the store and brings its schema up to date.
    public func open() async throws -> any Store {
        switch self {
        case .sqlite(let path): return try SQLiteStore(path: path)
        case .postgres(let url): return try await PostgresStore(url: url)
        }
    }
}
