import Foundation
import PostgresNIO

// MARK: - Nodes and the queue

extension PostgresStore {
    public func heartbeat(_ node: NodeRecord) async throws {
        var up = node
        up.state = .up
        let doc = try Self.doc(up)
        try await execute("renewing the lease of node \(node.id)", """
            INSERT INTO nodes (id, role, state, lease_until, doc) VALUES (\(up.id), \(up.role), 'up', \(up.leaseUntil), \(doc)::jsonb)
            ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role, state = 'up', lease_until = EXCLUDED.lease_until, doc = EXCLUDED.doc
            """)
    }

    public func nodes() async throws -> [NodeRecord] {
        try await records("listing nodes", NodeRecord.self, "SELECT doc::text FROM nodes ORDER BY id")
    }

    public func leave(node: String, at date: Date) async throws {
        try await transaction("node \(node) leaving") { connection in
            guard var record = try await connection.records(NodeRecord.self, "SELECT doc::text FROM nodes WHERE id = \(node) FOR UPDATE",
                                                            logger: logger).first else { return }
            record.state = .left
            record.leaseUntil = date
            try await Self.writeNode(connection, record, logger: logger)
            for var job in try await connection.records(JobRecord.self, """
                SELECT doc::text FROM jobs WHERE node = \(node) AND status = 'pending' AND sandbox_id IS NULL FOR UPDATE
                """, logger: logger) {
                job.node = nil
                try await Self.writeJob(connection, job, claimedBy: nil, logger: logger)
            }
        }
    }

    public func workerLoads(at now: Date) async throws -> [NodeLoad] {
        try await call("measuring worker load") {
            var loads: [NodeLoad] = []
            let rows = try await client.query("""
                SELECT n.id,
                  ((SELECT COUNT(*) FROM sandboxes s WHERE s.node = n.id AND s.state IN ('creating', 'active', 'paused'))
                   + (SELECT COUNT(*) FROM jobs j WHERE j.node = n.id AND j.status IN ('pending', 'running')
                      AND j.sandbox_id IS NULL))::int AS load
                FROM nodes n WHERE n.state = 'up' AND n.role IN ('worker', 'all') AND n.lease_until > \(now)
                ORDER BY load, n.id
                """, logger: logger)
            for try await (node, load) in rows.decode((String, Int).self) { loads.append(NodeLoad(node: node, load: load)) }
            return loads
        }
    }

    public func claimJob(node: String) async throws -> JobRecord? {
        try await transaction("claiming a job for node \(node)") { connection in
            // SKIP LOCKED: workers claiming at once each take a different job instead of queueing behind one row.
            guard var job = try await connection.records(JobRecord.self, """
                SELECT doc::text FROM jobs WHERE status = 'pending' AND claimed_by IS NULL AND (node = \(node) OR node IS NULL)
                ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
                """, logger: logger).first else { return nil }
            job.node = node
            try await Self.writeJob(connection, job, claimedBy: node, logger: logger)
            return job
        }
    }

    public func releaseClaims(node: String) async throws {
        try await execute("releasing the claims of node \(node)", """
            UPDATE jobs SET claimed_by = NULL WHERE claimed_by = \(node) AND status = 'pending'
            """)
    }

    public func cancelUnclaimed(jobId: String, at date: Date, reason: String) async throws -> JobRecord? {
        try await transaction("cancelling job \(jobId)") { connection in
            guard var job = try await connection.records(JobRecord.self, """
                SELECT doc::text FROM jobs WHERE id = \(jobId) AND status = 'pending' AND claimed_by IS NULL FOR UPDATE
                """, logger: logger).first else { return nil }
            job.status = .cancelled
            job.completedAt = date
            job.error = reason
            try await Self.writeJob(connection, job, claimedBy: nil, logger: logger)
            return job
        }
    }

    public func expireNodes(at now: Date, reason: String) async throws -> [NodeLoss] {
        let expired = try await call("finding lost nodes") {
            var ids: [String] = []
            for try await id in try await client.query("""
                SELECT id FROM nodes WHERE state = 'up' AND lease_until < \(now) ORDER BY id
                """, logger: logger).decode(String.self) { ids.append(id) }
            return ids
        }
        var losses: [NodeLoss] = []
        for node in expired {
            let loss = try await transaction("expiring node \(node)") { connection in
                try await self.expire(node, at: now, reason: reason, on: connection)
            }
            if let loss { losses.append(loss) }
        }
        return losses
    }

    /// One lost node, in the caller's transaction; nil if another node expired it first or it came back.
    private func expire(_ node: String, at now: Date, reason: String, on connection: PostgresConnection) async throws -> NodeLoss? {
        guard var record = try await connection.records(NodeRecord.self, """
            SELECT doc::text FROM nodes WHERE id = \(node) AND state = 'up' AND lease_until < \(now) FOR UPDATE
            """, logger: logger).first else { return nil }
        record.state = .lost
        try await Self.writeNode(connection, record, logger: logger)
        var loss = NodeLoss(node: node)
        for var job in try await connection.records(JobRecord.self, """
            SELECT doc::text FROM jobs WHERE node = \(node) AND (status = 'running' OR (status = 'pending' AND sandbox_id IS NOT NULL))
            ORDER BY created_at, id FOR UPDATE
            """, logger: logger) {
            job.status = .failed
            job.error = reason
            job.errorCode = "SANDBOX_ERROR"
            job.completedAt = now
            try await Self.writeJob(connection, job, claimedBy: nil, logger: logger)
            try await Self.insertStage(connection, jobId: job.id, StageEvent(ts: now, stage: "failed", level: .error,
                                                                             detail: "Job failed: \(reason)"), logger: logger)
            loss.failedJobs.append(job.id)
        }
        for var job in try await connection.records(JobRecord.self, """
            SELECT doc::text FROM jobs WHERE node = \(node) AND status = 'pending' AND sandbox_id IS NULL ORDER BY created_at, id FOR UPDATE
            """, logger: logger) {
            job.node = nil
            try await Self.writeJob(connection, job, claimedBy: nil, logger: logger)
            try await Self.insertStage(connection, jobId: job.id, StageEvent(ts: now, stage: "queued", level: .warning,
                detail: "Node \(node) was lost before the job started; queued again"), logger: logger)
            loss.requeuedJobs.append(job.id)
        }
        for var sandbox in try await connection.records(SandboxRecord.self, """
            SELECT doc::text FROM sandboxes WHERE node = \(node) AND state IN ('creating', 'active', 'paused')
            ORDER BY created_at, id FOR UPDATE
            """, logger: logger) {
            sandbox.state = .lost
            sandbox.endReason = reason
            let doc = try Self.doc(sandbox)
            try await connection.query("UPDATE sandboxes SET state = 'lost', doc = \(doc)::jsonb WHERE id = \(sandbox.id)", logger: logger)
            loss.lostSandboxes.append(sandbox.id)
        }
        return loss
    }

    /// Writes a job's columns and document and sets its claim, inside the caller's transaction.
    static func writeJob(_ connection: PostgresConnection, _ job: JobRecord, claimedBy: String?, logger: Logger) async throws {
        let doc = try doc(job)
        try await connection.query("""
            UPDATE jobs SET status = \(job.status.rawValue), node = \(job.node), sandbox_id = \(job.sandboxId),
              claimed_by = \(claimedBy), doc = \(doc)::jsonb
            WHERE id = \(job.id)
            """, logger: logger)
    }

    static func writeNode(_ connection: PostgresConnection, _ node: NodeRecord, logger: Logger) async throws {
        let doc = try doc(node)
        try await connection.query("""
            UPDATE nodes SET state = \(node.state.rawValue), lease_until = \(node.leaseUntil), doc = \(doc)::jsonb WHERE id = \(node.id)
            """, logger: logger)
    }
}

// MARK: - Requests, changes, locks, counters, secrets

extension PostgresStore {
    public func insertNodeRequest(_ request: NodeRequest) async throws {
        let doc = try Self.doc(request)
        try await execute("recording a request to node \(request.node)", """
            INSERT INTO node_requests (id, node, created_at, doc) VALUES (\(request.id), \(request.node), \(request.createdAt), \(doc)::jsonb)
            """)
    }

    public func takeNodeRequests(node: String) async throws -> [NodeRequest] {
        let taken = try await records("taking the requests of node \(node)", NodeRequest.self, """
            DELETE FROM node_requests WHERE node = \(node) RETURNING doc::text
            """)
        return taken.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    public func notify(_ change: StoreChange) async throws {
        try await execute("announcing a change", "SELECT pg_notify(\(Self.channel), \(change.payload))")
    }

    public func changes() async -> AsyncStream<StoreChange> {
        changeFeed.subscribe()
    }

    public func holdLock(_ name: String) async throws -> Bool {
        await sessions.holdLock(name)
    }

    public func hit(_ key: String, window: Int64, expireBefore: Int64) async throws -> Int {
        // Old windows go now and then, not at every request: each hit is one statement.
        if Int.random(in: 0..<64) == 0 {
            try await execute("dropping old counters", "DELETE FROM counters WHERE \"window\" < \(expireBefore)")
        }
        return try await call("counting a request") {
            var count = 1
            for try await value in try await client.query("""
                INSERT INTO counters (key, "window", count) VALUES (\(key), \(window), 1)
                ON CONFLICT (key, "window") DO UPDATE SET count = counters.count + 1 RETURNING count
                """, logger: logger).decode(Int.self) { count = value }
            return count
        }
    }

    public func sharedSecret(_ name: String) async throws -> Data {
        var generator = SystemRandomNumberGenerator()
        let candidate = Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        return try await transaction("reading secret \(name)") { connection in
            try await connection.query("""
                INSERT INTO secrets (name, value) VALUES (\(name), \(candidate)) ON CONFLICT (name) DO NOTHING
                """, logger: logger)
            return try await connection.values(Data.self, "SELECT value FROM secrets WHERE name = \(name)", logger: logger).first ?? candidate
        }
    }
}
