import Foundation
import PostgresNIO

// MARK: - Tokens

extension PostgresStore {
    public func insertToken(_ token: OAuthTokenRecord) async throws {
        let doc = try Self.doc(token)
        try await execute("recording a token", """
            INSERT INTO oauth_tokens (hash, client_id, doc) VALUES (\(token.hash), \(token.clientId), \(doc)::jsonb)
            """)
    }

    public func token(hash: String) async throws -> OAuthTokenRecord? {
        try await record("reading a token", OAuthTokenRecord.self, "SELECT doc::text FROM oauth_tokens WHERE hash = \(hash)")
    }

    public func revokeToken(hash: String, at date: Date) async throws -> Bool {
        try await modify("revoking a token", OAuthTokenRecord.self, table: "oauth_tokens", key: "hash", hash) { token in
            guard token.revokedAt == nil else { return false }
            token.revokedAt = date
            return true
        }
    }
}

// MARK: - Knaps

extension PostgresStore {
    public func insertKnap(_ knap: KnapRecord) async throws {
        let doc = try Self.doc(knap)
        try await execute("recording knap \(knap.uuid)", """
            INSERT INTO knaps (uuid, creation_user_id, visibility, schedule_type, is_active, next_run_at, creation_timestamp, doc)
            VALUES (\(knap.uuid), \(knap.creationUserId), \(knap.visibility), \(knap.scheduleType), \(knap.isActive),
                    \(knap.nextRunAt), \(knap.creationTimestamp), \(doc)::jsonb)
            """)
    }

    public func updateKnap(_ knap: KnapRecord) async throws {
        let updated = try await transaction("updating knap \(knap.uuid)") { connection in
            try await Self.writeKnap(connection, knap, logger: logger)
        }
        guard updated else { throw StorageError(.notFound, "no knap \(knap.uuid)") }
    }

    static func writeKnap(_ connection: PostgresConnection, _ knap: KnapRecord, logger: Logger) async throws -> Bool {
        let doc = try doc(knap)
        return try await connection.values(String.self, """
            UPDATE knaps SET creation_user_id = \(knap.creationUserId), visibility = \(knap.visibility),
              schedule_type = \(knap.scheduleType), is_active = \(knap.isActive), next_run_at = \(knap.nextRunAt), doc = \(doc)::jsonb
            WHERE uuid = \(knap.uuid) RETURNING uuid
            """, logger: logger).count == 1
    }

    public func knap(uuid: String) async throws -> KnapRecord? {
        try await record("reading knap \(uuid)", KnapRecord.self, "SELECT doc::text FROM knaps WHERE uuid = \(uuid)")
    }

    public func deleteKnap(uuid: String) async throws -> Bool {
        try await call("deleting knap \(uuid)") {
            try await client.query("DELETE FROM knaps WHERE uuid = \(uuid) RETURNING uuid", logger: logger).collect().count == 1
        }
    }

    public func knaps(visibleTo userId: String, org: String?) async throws -> [KnapRecord] {
        try await records("listing knaps", KnapRecord.self, """
            SELECT doc::text FROM knaps
            WHERE creation_user_id = \(userId) OR visibility = 'public' OR (\(org)::text IS NOT NULL AND visibility = \(org))
            ORDER BY creation_timestamp DESC, uuid
            """)
    }

    public func allKnaps() async throws -> [KnapRecord] {
        try await records("listing knaps", KnapRecord.self, "SELECT doc::text FROM knaps ORDER BY creation_timestamp DESC, uuid")
    }

    public func activeKnaps(scheduleType: String) async throws -> [KnapRecord] {
        try await records("listing knaps", KnapRecord.self, """
            SELECT doc::text FROM knaps WHERE is_active AND schedule_type = \(scheduleType) ORDER BY creation_timestamp, uuid
            """)
    }

    public func dueKnaps(at now: Date) async throws -> [KnapRecord] {
        try await records("listing due knaps", KnapRecord.self, """
            SELECT doc::text FROM knaps WHERE is_active AND schedule_type = 'scheduled' AND next_run_at IS NOT NULL
              AND next_run_at <= \(now) ORDER BY next_run_at, uuid
            """)
    }

    public func claimSlot(_ run: KnapRunRecord, next: Date?) async throws -> Bool {
        guard let knapUUID = run.knapUUID, let slot = run.slotAt else {
            throw StorageError(.conflict, "a scheduled run needs its knap and slot")
        }
        return try await transaction("claiming a slot of knap \(knapUUID)") { connection in
            // The knap's row is the lock: a second scheduler waits here, then finds `next_run_at` moved.
            guard var knap = try await connection.records(KnapRecord.self, """
                SELECT doc::text FROM knaps WHERE uuid = \(knapUUID) FOR UPDATE
                """, logger: logger).first, knap.isActive, knap.nextRunAt == slot else { return false }
            let taken = try await connection.values(Int.self, """
                SELECT COUNT(*)::int FROM knap_runs WHERE knap_uuid = \(knapUUID) AND slot_at = \(slot)
                """, logger: logger).first ?? 0
            guard taken == 0 else { return false }
            knap.nextRunAt = next
            _ = try await Self.writeKnap(connection, knap, logger: logger)
            try await Self.insertRun(connection, run, logger: logger)
            return true
        }
    }

    public func insertRun(_ run: KnapRunRecord) async throws {
        try await transaction("recording run \(run.id)") { connection in try await Self.insertRun(connection, run, logger: logger) }
    }

    static func insertRun(_ connection: PostgresConnection, _ run: KnapRunRecord, logger: Logger) async throws {
        let doc = try doc(run)
        try await connection.query("""
            INSERT INTO knap_runs (id, knap_uuid, chat_id, job_id, slot_at, created_at, doc)
            VALUES (\(run.id), \(run.knapUUID), \(run.chatId), \(run.jobId), \(run.slotAt), \(run.createdAt), \(doc)::jsonb)
            """, logger: logger)
    }

    public func run(id: String) async throws -> KnapRunRecord? {
        try await record("reading run \(id)", KnapRunRecord.self, "SELECT doc::text FROM knap_runs WHERE id = \(id)")
    }

    public func runs(knapUUID: String, limit: Int) async throws -> [KnapRunStatus] {
        try await call("listing runs of knap \(knapUUID)") {
            var runs: [KnapRunStatus] = []
            let rows = try await client.query("""
                SELECT r.doc::text, j.doc::text FROM knap_runs r LEFT JOIN jobs j ON j.id = r.job_id
                WHERE r.knap_uuid = \(knapUUID) ORDER BY r.created_at DESC, r.id LIMIT \(limit)
                """, logger: logger)
            for try await (runText, jobText) in rows.decode((String, String?).self) {
                let job = try jobText.map { try Self.decode(JobRecord.self, $0) }
                runs.append(KnapRunStatus(run: try Self.decode(KnapRunRecord.self, runText), status: job?.status.rawValue,
                                          completedAt: job?.completedAt, error: job?.error))
            }
            return runs
        }
    }

    public func lastRun(chatId: String) async throws -> KnapRunRecord? {
        try await record("reading chat \(chatId)", KnapRunRecord.self, """
            SELECT doc::text FROM knap_runs WHERE chat_id = \(chatId) ORDER BY created_at DESC, seq DESC LIMIT 1
            """)
    }

    public func runsWithoutJob(createdAfter after: Date, before: Date) async throws -> [KnapRunRecord] {
        try await records("listing unsubmitted runs", KnapRunRecord.self, """
            SELECT doc::text FROM knap_runs r WHERE r.created_at > \(after) AND r.created_at < \(before)
              AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = r.job_id)
            ORDER BY r.created_at, r.id
            """)
    }
}
