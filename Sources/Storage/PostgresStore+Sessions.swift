import Foundation
import Logging
import PostgresNIO

extension PostgresStore {
    /// The two things that belong to one database session rather than to pooled connections: `LISTEN` (a pooled
    /// connection would drop notifications when it is handed back) and session-level advisory locks (released by
    /// PostgreSQL the moment the holding process dies, which is what makes failover work without timeouts of ours).
    actor Sessions {
        let configuration: PostgresConnection.Configuration
        let logger: Logger
        private var lockConnection: PostgresConnection?
        private var listenConnection: PostgresConnection?
        private var listener: Task<Void, Never>?
        private var closed = false
        private var nextId = 0

        init(configuration pool: PostgresClient.Configuration, logger: Logger) {
            configuration = PostgresConnection.Configuration(host: pool.host ?? "127.0.0.1", port: pool.port ?? 5432,
                                                             username: pool.username, password: pool.password,
                                                             database: pool.database, tls: .disable)
            self.logger = logger
        }

        private func connect() async throws -> PostgresConnection {
            nextId += 1
            return try await PostgresConnection.connect(configuration: configuration, id: nextId, logger: logger)
        }

        /// Listens on the change channel and feeds what arrives to `feed`; returns once the first `LISTEN` is in place,
        /// so a change announced after the store opened is not missed. A broken session is re-established.
        func startListening(into feed: ChangeFeed) async {
            guard listener == nil else { return }
            await withCheckedContinuation { (ready: CheckedContinuation<Void, Never>) in
                var signal: CheckedContinuation<Void, Never>? = ready
                listener = Task {
                    while !Task.isCancelled, !self.closed {
                        do {
                            let connection = try await self.connect()
                            self.listenConnection = connection
                            try await connection.listen(on: PostgresStore.channel) { notifications in
                                signal?.resume()
                                signal = nil
                                for try await notification in notifications {
                                    if let change = StoreChange(payload: notification.payload) { feed.publish(change) }
                                }
                            }
                        } catch {
                            if !self.closed {
                                self.logger.warning("the store's notification session broke; reconnecting", metadata: ["error": "\(error)"])
                            }
                        }
                        try? await self.listenConnection?.close()
                        self.listenConnection = nil
                        if signal != nil {
                            // Not listening yet: let the store open anyway; `changes()` starts once it reconnects.
                            signal?.resume()
                            signal = nil
                        }
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
            }
        }

        /// Takes or keeps the named session lock. A session that broke is replaced, and the lock counts as not held
        /// until taken again.
        func holdLock(_ name: String) async -> Bool {
            do {
                if lockConnection == nil || lockConnection?.isClosed == true {
                    try? await lockConnection?.close()
                    lockConnection = try await connect()
                }
                guard let connection = lockConnection else { return false }
                let rows = try await connection.query("SELECT pg_try_advisory_lock(hashtext(\(name)))", logger: logger)
                for try await held in rows.decode(Bool.self) { return held }
                return false
            } catch {
                try? await lockConnection?.close()
                lockConnection = nil
                return false
            }
        }

        func close() async {
            closed = true
            listener?.cancel()
            try? await listenConnection?.close()
            await listener?.value
            try? await lockConnection?.close()
            lockConnection = nil
        }
    }
}

extension StoreChange {
    /// `job:<id>`, `work:<node>` or `work:` (any node): the NOTIFY payload.
    var payload: String {
        switch self {
        case .job(let id): "job:\(id)"
        case .work(let node): "work:\(node ?? "")"
        }
    }

    init?(payload: String) {
        if payload.hasPrefix("job:") {
            self = .job(String(payload.dropFirst(4)))
        } else if payload.hasPrefix("work:") {
            let node = String(payload.dropFirst(5))
            self = .work(node: node.isEmpty ? nil : node)
        } else {
            return nil
        }
    }
}
