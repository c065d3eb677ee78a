import Foundation
import GRDB

extension KnapRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "knaps"
}

extension KnapRunRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "knap_runs"
}

extension OAuthTokenRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "oauth_tokens"
}

extension SQLiteStore {
    static func createKnapTables(_ db: Database) throws {
        try db.create(table: "oauth_tokens") { t in
            t.primaryKey("hash", .text)
            t.column("clientId", .text).notNull().indexed()
            t.column("kind", .text).notNull()
            t.column("createdAt", .datetime).notNull()
            t.column("expiresAt", .datetime).notNull()
            t.column("revokedAt", .datetime)
        }
        try db.create(table: "knaps") { t in
            t.primaryKey("uuid", .text)
            t.column("name", .text).notNull()
            t.column("creationUserId", .text).notNull().indexed()
            t.column("ownerOrg", .text)
            t.column("scheduleType", .text).notNull()
            t.column("isActive", .boolean).notNull()
            t.column("visibility", .text).notNull().indexed()
            t.column("canToggleDefaultActive", .boolean).notNull()
            t.column("activeByDefault", .boolean).notNull()
            t.column("toolMetadata", .text).notNull()
            t.column("scheduleInfo", .text)
            t.column("nextRunAt", .datetime).indexed()
            t.column("agent", .text).notNull()
            t.column("model", .text)
            t.column("timezone", .text).notNull()
            t.column("creationTimestamp", .datetime).notNull()
            t.column("updatedAt", .datetime).notNull()
        }
        try db.create(table: "knap_runs") { t in
            t.primaryKey("id", .text)
            t.column("knapUUID", .text)
            t.column("chatId", .text).notNull().indexed()
            t.column("jobId", .text).notNull().unique()
            t.column("userId", .text).notNull()
            t.column("trigger", .text).notNull()
            t.column("slotAt", .datetime)
            t.column("note", .text)
            t.column("specJSON", .text).notNull()
            t.column("createdAt", .datetime).notNull()
        }
        try db.create(index: "knap_runs_by_knap", on: "knap_runs", columns: ["knapUUID", "createdAt"])
        // The exactly-once rule of the scheduler: one run per knap and slot, whoever claims it.
        try db.create(index: "knap_runs_one_per_slot", on: "knap_runs", columns: ["knapUUID", "slotAt"], options: .unique,
                      condition: Column("slotAt") != nil)
    }
}

// MARK: - Tokens

extension SQLiteStore {
    public func insertToken(_ token: OAuthTokenRecord) async throws {
        try await write("recording a token") { db in try token.insert(db) }
    }

    public func token(hash: String) async throws -> OAuthTokenRecord? {
        try await read("reading a token") { db in try OAuthTokenRecord.fetchOne(db, key: hash) }
    }

    public func revokeToken(hash: String, at date: Date) async throws -> Bool {
        try await write("revoking a token") { db in
            try db.execute(sql: "UPDATE oauth_tokens SET revokedAt = ? WHERE hash = ? AND revokedAt IS NULL",
                           arguments: [date, hash])
            return db.changesCount == 1
        }
    }
}

// MARK: - Knaps

extension SQLiteStore {
    public func insertKnap(_ knap: KnapRecord) async throws {
        try await write("recording knap \(knap.uuid)") { db in try knap.insert(db) }
    }

    public func updateKnap(_ knap: KnapRecord) async throws {
        try await write("updating knap \(knap.uuid)") { db in
            do {
                try knap.update(db)
            } catch is RecordError {
                throw StorageError(.notFound, "no knap \(knap.uuid)")
            }
        }
    }

    public func knap(uuid: String) async throws -> KnapRecord? {
        try await read("reading knap \(uuid)") { db in try KnapRecord.fetchOne(db, key: uuid) }
    }

    public func deleteKnap(uuid: String) async throws -> Bool {
        try await write("deleting knap \(uuid)") { db in try KnapRecord.deleteOne(db, key: uuid) }
    }

    public func knaps(visibleTo userId: String, org: String?) async throws -> [KnapRecord] {
        try await read("listing knaps") { db in
            try KnapRecord.fetchAll(db, sql: """
                SELECT * FROM knaps WHERE creationUserId = ? OR visibility = 'public' OR (? IS NOT NULL AND visibility = ?)
                ORDER BY creationTimestamp DESC, uuid
                """, arguments: [userId, org, org])
        }
    }

    public func allKnaps() async throws -> [KnapRecord] {
        try await read("listing knaps") { db in
            try KnapRecord.fetchAll(db, sql: "SELECT * FROM knaps ORDER BY creationTimestamp DESC, uuid")
        }
    }

    public func activeKnaps(scheduleType: String) async throws -> [KnapRecord] {
        try await read("listing knaps") { db in
            try KnapRecord.fetchAll(db, sql: "SELECT * FROM knaps WHERE isActive AND scheduleType = ? ORDER BY creationTimestamp",
                                    arguments: [scheduleType])
        }
    }

    public func dueKnaps(at now: Date) async throws -> [KnapRecord] {
        try await read("listing due knaps") { db in
            try KnapRecord.fetchAll(db, sql: """
                SELECT * FROM knaps WHERE isActive AND scheduleType = 'scheduled' AND nextRunAt IS NOT NULL AND nextRunAt <= ?
                ORDER BY nextRunAt
                """, arguments: [now])
        }
    }

    public func claimSlot(_ run: KnapRunRecord, next: Date?) async throws -> Bool {
        guard let knapUUID = run.knapUUID, let slot = run.slotAt else {
            throw StorageError(.conflict, "a scheduled run needs its knap and slot")
        }
        return try await write("claiming a slot of knap \(knapUUID)") { db in
            try db.execute(sql: "UPDATE knaps SET nextRunAt = ? WHERE uuid = ? AND nextRunAt = ? AND isActive",
                           arguments: [next, knapUUID, slot])
            guard db.changesCount == 1 else { return false }
            // Same transaction: if the slot was already run (a reset `next_run_at`), nothing moves.
            if try KnapRunRecord.filter(Column("knapUUID") == knapUUID && Column("slotAt") == slot).fetchCount(db) > 0 {
                return false
            }
            try run.insert(db)
            return true
        }
    }

    public func insertRun(_ run: KnapRunRecord) async throws {
        try await write("recording run \(run.id)") { db in try run.insert(db) }
    }

    public func run(id: String) async throws -> KnapRunRecord? {
        try await read("reading run \(id)") { db in try KnapRunRecord.fetchOne(db, key: id) }
    }

    public func runs(knapUUID: String, limit: Int) async throws -> [KnapRunStatus] {
        try await read("listing runs of knap \(knapUUID)") { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT knap_runs.*, jobs.status AS jobStatus, jobs.completed_at AS jobCompletedAt, jobs.error AS jobError
                FROM knap_runs LEFT JOIN jobs ON jobs.id = knap_runs.jobId
                WHERE knapUUID = ? ORDER BY knap_runs.createdAt DESC, knap_runs.id LIMIT ?
                """, arguments: [knapUUID, limit])
            return try rows.map { row in
                KnapRunStatus(run: try KnapRunRecord(row: row), status: row["jobStatus"],
                              completedAt: row["jobCompletedAt"], error: row["jobError"])
            }
        }
    }

    public func lastRun(chatId: String) async throws -> KnapRunRecord? {
        try await read("reading chat \(chatId)") { db in
            try KnapRunRecord.fetchOne(db, sql: "SELECT * FROM knap_runs WHERE chatId = ? ORDER BY createdAt DESC, rowid DESC LIMIT 1",
                                       arguments: [chatId])
        }
    }

    public func runsWithoutJob(createdAfter after: Date, before: Date) async throws -> [KnapRunRecord] {
        try await read("listing unsubmitted runs") { db in
            try KnapRunRecord.fetchAll(db, sql: """
                SELECT * FROM knap_runs WHERE createdAt > ? AND createdAt < ?
                AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = knap_runs.jobId)
                ORDER BY createdAt
                """, arguments: [after, before])
        }
    }
}
