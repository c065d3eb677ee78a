import Foundation
import GRDB

extension NodeRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "nodes"
}

extension NodeRequest: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "node_requests"
}

extension SQLiteStore {
    static func createClusterTables(_ db: Database) throws {
        try db.create(table: "nodes") { t in
            t.primaryKey("id", .text)
            t.column("role", .text).notNull()
            t.column("state", .text).notNull()
            t.column("address", .text)
            t.column("startedAt", .datetime).notNull()
            t.column("heartbeatAt", .datetime).notNull()
            t.column("leaseUntil", .datetime).notNull()
        }
        try db.create(table: "node_requests") { t in
            t.primaryKey("id", .text)
            t.column("node", .text).notNull().indexed()
            t.column("kind", .text).notNull()
            t.column("jobId", .text).notNull()
            t.column("createdAt", .datetime).notNull()
        }
        try db.create(table: "counters") { t in
            t.column("key", .text).notNull()
            t.column("window", .integer).notNull()
            t.column("count", .integer).notNull()
            t.primaryKey(["key", "window"])
        }
        try db.create(table: "secrets") { t in
            t.primaryKey("name", .text)
            t.column("value", .blob).notNull()
        }
        // The worker that took a pending job into its queue; store-only, so `updateJob` never clears it.
        try db.alter(table: "jobs") { t in t.add(column: "claimed_by", .text) }
        try db.create(index: "jobs_claimable", on: "jobs", columns: ["status", "claimed_by", "created_at"])
    }
}

// MARK: - Nodes and the queue

extension SQLiteStore {
    public func heartbeat(_ node: NodeRecord) async throws {
        var up = node
        up.state = .up
        try await write("renewing the lease of node \(node.id)") { [up] db in try up.save(db) }
    }

    public func nodes() async throws -> [NodeRecord] {
        try await read("listing nodes") { db in try NodeRecord.fetchAll(db, sql: "SELECT * FROM nodes ORDER BY id") }
    }

    public func leave(node: String, at date: Date) async throws {
        try await write("node \(node) leaving") { db in
            try db.execute(sql: "UPDATE nodes SET state = 'left', leaseUntil = ? WHERE id = ?", arguments: [date, node])
            try db.execute(sql: """
                UPDATE jobs SET node = NULL, claimed_by = NULL WHERE node = ? AND status = 'pending' AND sandbox_id IS NULL
                """, arguments: [node])
        }
    }

    public func workerLoads(at now: Date) async throws -> [NodeLoad] {
        try await read("measuring worker load") { db in
            try Row.fetchAll(db, sql: """
                SELECT n.id AS node,
                  (SELECT COUNT(*) FROM sandboxes s WHERE s.node = n.id AND s.state IN ('creating', 'active', 'paused'))
                  + (SELECT COUNT(*) FROM jobs j WHERE j.node = n.id AND j.status IN ('pending', 'running')
                     AND j.sandbox_id IS NULL) AS load
                FROM nodes n WHERE n.state = 'up' AND n.role IN ('worker', 'all') AND n.leaseUntil > ?
                ORDER BY load, n.id
                """, arguments: [now]).map { NodeLoad(node: $0["node"], load: $0["load"]) }
        }
    }

    public func claimJob(node: String) async throws -> JobRecord? {
        try await write("claiming a job for node \(node)") { db in
            guard var job = try JobRecord.fetchOne(db, sql: """
                SELECT * FROM jobs WHERE status = 'pending' AND claimed_by IS NULL AND (node = ? OR node IS NULL)
                ORDER BY created_at, id LIMIT 1
                """, arguments: [node]) else { return nil }
            try db.execute(sql: "UPDATE jobs SET claimed_by = ?, node = ? WHERE id = ?", arguments: [node, node, job.id])
            job.node = node
            return job
        }
    }

    public func releaseClaims(node: String) async throws {
        try await write("releasing the claims of node \(node)") { db in
            try db.execute(sql: "UPDATE jobs SET claimed_by = NULL WHERE claimed_by = ? AND status = 'pending'", arguments: [node])
        }
    }

    public func cancelUnclaimed(jobId: String, at date: Date, reason: String) async throws -> JobRecord? {
        try await write("cancelling job \(jobId)") { db in
            try db.execute(sql: """
                UPDATE jobs SET status = 'cancelled', completed_at = ?, error = ?
                WHERE id = ? AND status = 'pending' AND claimed_by IS NULL
                """, arguments: [date, reason, jobId])
            guard db.changesCount == 1 else { return nil }
            return try JobRecord.fetchOne(db, key: jobId)
        }
    }

    public func expireNodes(at now: Date, reason: String) async throws -> [NodeLoss] {
        let expired = try await read("finding lost nodes") { db in
            try String.fetchAll(db, sql: "SELECT id FROM nodes WHERE state = 'up' AND leaseUntil < ? ORDER BY id", arguments: [now])
        }
        var losses: [NodeLoss] = []
        for node in expired {
            let loss = try await write("expiring node \(node)") { db -> NodeLoss? in
                try db.execute(sql: "UPDATE nodes SET state = 'lost' WHERE id = ? AND state = 'up' AND leaseUntil < ?",
                               arguments: [node, now])
                guard db.changesCount == 1 else { return nil }
                var loss = NodeLoss(node: node)
                loss.failedJobs = try String.fetchAll(db, sql: """
                    SELECT id FROM jobs WHERE node = ? AND (status = 'running' OR (status = 'pending' AND sandbox_id IS NOT NULL))
                    ORDER BY created_at
                    """, arguments: [node])
                for id in loss.failedJobs {
                    try db.execute(sql: """
                        UPDATE jobs SET status = 'failed', error = ?, error_code = 'SANDBOX_ERROR', completed_at = ?, claimed_by = NULL
                        WHERE id = ?
                        """, arguments: [reason, now, id])
                    try Self.insertStage(db, jobId: id, StageEvent(ts: now, stage: "failed", level: .error, detail: "Job failed: \(reason)"))
                }
                loss.requeuedJobs = try String.fetchAll(db, sql: """
                    SELECT id FROM jobs WHERE node = ? AND status = 'pending' AND sandbox_id IS NULL ORDER BY created_at
                    """, arguments: [node])
                for id in loss.requeuedJobs {
                    try db.execute(sql: "UPDATE jobs SET node = NULL, claimed_by = NULL WHERE id = ?", arguments: [id])
                    try Self.insertStage(db, jobId: id, StageEvent(ts: now, stage: "queued", level: .warning,
                                                                   detail: "Node \(node) was lost before the job started; queued again"))
                }
                loss.lostSandboxes = try String.fetchAll(db, sql: """
                    SELECT id FROM sandboxes WHERE node = ? AND state IN ('creating', 'active', 'paused') ORDER BY createdAt
                    """, arguments: [node])
                try db.execute(sql: """
                    UPDATE sandboxes SET state = 'lost', endReason = ? WHERE node = ? AND state IN ('creating', 'active', 'paused')
                    """, arguments: [reason, node])
                return loss
            }
            if let loss { losses.append(loss) }
        }
        return losses
    }
}

// MARK: - Requests, changes, locks, counters, secrets

extension SQLiteStore {
    public func insertNodeRequest(_ request: NodeRequest) async throws {
        try await write("recording a request to node \(request.node)") { db in try request.insert(db) }
    }

    public func takeNodeRequests(node: String) async throws -> [NodeRequest] {
        try await write("taking the requests of node \(node)") { db in
            let requests = try NodeRequest.fetchAll(db, sql: "SELECT * FROM node_requests WHERE node = ? ORDER BY createdAt, id",
                                                    arguments: [node])
            try db.execute(sql: "DELETE FROM node_requests WHERE node = ?", arguments: [node])
            return requests
        }
    }

    /// One process is the whole of an SQLite cluster, so announcing is handing the change to this process's readers.
    public func notify(_ change: StoreChange) async throws {
        changeFeed.publish(change)
    }

    public func changes() async -> AsyncStream<StoreChange> {
        changeFeed.subscribe()
    }

    /// An SQLite store serves one process, which holds every lock.
    public func holdLock(_ name: String) async throws -> Bool { true }

    public func hit(_ key: String, window: Int64, expireBefore: Int64) async throws -> Int {
        try await write("counting a request") { db in
            try db.execute(sql: "DELETE FROM counters WHERE window < ?", arguments: [expireBefore])
            return try Int.fetchOne(db, sql: """
                INSERT INTO counters (key, window, count) VALUES (?, ?, 1)
                ON CONFLICT (key, window) DO UPDATE SET count = count + 1 RETURNING count
                """, arguments: [key, window]) ?? 1
        }
    }

    public func sharedSecret(_ name: String) async throws -> Data {
        var generator = SystemRandomNumberGenerator()
        let candidate = Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        return try await write("reading secret \(name)") { db in
            try db.execute(sql: "INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)", arguments: [name, candidate])
            return try Data.fetchOne(db, sql: "SELECT value FROM secrets WHERE name = ?", arguments: [name]) ?? candidate
        }
    }

    public func close() async {
        changeFeed.finish()
    }
}
