import Foundation
import Synchronization

/// Serves the hottest reads — an API key by its hash, a job's detail — from memory while the database is unchanged,
/// so polling a job costs no trip to a reader thread.
///
/// "Unchanged" is SQLite's own WAL-index header: the first 96 bytes of the `-shm` file, two copies of a 48-byte
/// header holding the commit counter, the last frame and the WAL salts (sqlite.org/walformat.html, "The WAL-Index
/// Header"). Every commit by any process — this server, or `knify-sandbox` revoking a key — rewrites it, so a hit
/// is never older than the last commit. The stamp is taken before the read that fills an entry: a commit racing the
/// fill only makes that entry miss next time.
final class ReadCache: Sendable {
    private struct State {
        var stamp: [UInt8] = []
        var entries: [String: any Sendable] = [:]
    }

    static let capacity = 10_000
    private let indexPath: String
    private let state = Mutex(State())
    /// The `-shm` file, opened once: it lives as long as any connection to the database does, and this process
    /// holds one. Reopened if a read fails (an open per read was 5 % of a `GET /jobs/{id}` under load).
    private let index = Mutex<Int32>(-1)

    init(databasePath: String) {
        indexPath = databasePath + "-shm"
    }

    deinit {
        index.withLock { if $0 >= 0 { close($0) } }
    }

    /// The WAL-index header now; nil while a writer is between its two copies, before the index is initialised, or
    /// when it cannot be read (then nothing is cached).
    func stamp() -> [UInt8]? {
        var header = [UInt8](repeating: 0, count: 96)
        let read = index.withLock { descriptor -> Bool in
            for _ in 0..<2 {
                if descriptor < 0 { descriptor = open(indexPath, O_RDONLY | O_CLOEXEC) }
                guard descriptor >= 0 else { return false }
                if pread(descriptor, &header, 96, 0) == 96 { return true }
                close(descriptor)
                descriptor = -1
            }
            return false
        }
        // Byte 12 is isInit; the two copies differ while a commit is being written.
        guard read, header[12] == 1, header[0..<48] == header[48..<96] else { return nil }
        return Array(header[0..<48])
    }

    func value<T: Sendable>(_ key: String, at stamp: [UInt8]) -> T? {
        state.withLock { $0.stamp == stamp ? $0.entries[key] as? T : nil }
    }

    func store(_ value: some Sendable, _ key: String, at stamp: [UInt8]) {
        state.withLock { state in
            if state.stamp != stamp || state.entries.count >= Self.capacity {
                state.stamp = stamp
                state.entries = [:]
            }
            state.entries[key] = value
        }
    }
}

extension SQLiteStore {
    /// `body`'s answer for `key`, from the cache while the database is unchanged; found answers are kept.
    func cached<T: Sendable>(_ key: String, _ body: () async throws -> T?) async throws -> T? {
        guard let cache = readCache, let stamp = cache.stamp() else { return try await body() }
        if let hit: T = cache.value(key, at: stamp) { return hit }
        let value = try await body()
        if let value { cache.store(value, key, at: stamp) }
        return value
    }
}
