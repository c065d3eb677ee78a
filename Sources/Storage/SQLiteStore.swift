import Foundation
import GRDB

/// The embedded default store: one SQLite file (WAL) under the data directory, through GRDB. Every write is one
/// transaction, so a crash leaves either the old or the new state of a job, never half of it.
public final class SQLiteStore: Store, Sendable {
    let database: any DatabaseWriter
    let changeFeed = ChangeFeed()
    /// Keys and job details while the file is unchanged (SQLiteStore+ReadCache.swift); none in memory.
    let readCache: ReadCache?

    /// Opens (creating if needed) the database file and brings its schema up to date.
    public init(path: String) throws(StorageError) {
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            // WAL with synchronous=NORMAL: a crash of Knify loses nothing committed and never corrupts the file; only
            // a power cut can lose the last transactions. Saves an fsync per write on the job path.
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
            database = try DatabasePool(path: path, configuration: configuration)
            readCache = ReadCache(databasePath: path)
        } catch {
            throw StorageError(.unavailable, "cannot open the database at \(path)", cause: error)
        }
        try migrate()
    }

    /// A private database in memory: for tests and throwaway runs.
    public init() throws(StorageError) {
        do {
            database = try DatabaseQueue()
            readCache = nil
        } catch {
            throw StorageError(.unavailable, "cannot open an in-memory database", cause: error)
        }
        try migrate()
    }

    private func migrate() throws(StorageError) {
        do {
            try Self.migrator.migrate(database)
        } catch {
            throw StorageError(.corrupt, "the database schema could not be brought up to date", cause: error)
        }
    }

    func write<T: Sendable>(_ what: String, _ body: @Sendable @escaping (Database) throws -> T) async throws(StorageError) -> T {
        do {
            return try await database.write(body)
        } catch let error as StorageError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw StorageError(.conflict, "\(what): conflicts with what is stored", cause: error)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw StorageError(.full, "\(what): the disk under the store is full", cause: error)
        } catch {
            throw StorageError(.unavailable, "\(what) failed", cause: error)
        }
    }

    func read<T: Sendable>(_ what: String, _ body: @Sendable @escaping (Database) throws -> T) async throws(StorageError) -> T {
        do {
            return try await database.read(body)
        } catch {
            throw StorageError(.unavailable, "\(what) failed", cause: error)
        }
    }
}

// MARK: - Schema

extension SQLiteStore {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "sandboxes") { t in
                t.primaryKey("id", .text)
                t.column("node", .text).notNull().indexed()
                t.column("policy", .text).notNull()
                t.column("image", .text).notNull()
                t.column("state", .text).notNull()
                t.column("containerId", .text)
                t.column("jobId", .text)
                t.column("sessionId", .text).indexed()
                t.column("createdAt", .datetime).notNull()
                t.column("lastUsedAt", .datetime).notNull()
                t.column("endReason", .text)
                t.column("keepAliveUntil", .datetime)
                t.column("pooled", .boolean).notNull().defaults(to: false)
            }
            try db.create(table: "jobs") { t in
                t.primaryKey("id", .text)
                t.column("tenant", .text).notNull()
                t.column("job_type", .text).notNull()
                t.column("status", .text).notNull().indexed()
                t.column("spec_json", .text).notNull()
                t.column("user_id", .text)
                t.column("parent_job_id", .text)
                t.column("sandbox_id", .text)
                t.column("agent_session_id", .text)
                t.column("node", .text)
                t.column("created_at", .datetime).notNull()
                t.column("started_at", .datetime)
                t.column("completed_at", .datetime)
                t.column("error", .text)
                t.column("error_code", .text)
            }
            try db.create(index: "jobs_by_tenant", on: "jobs", columns: ["tenant", "created_at"])
            try db.create(index: "jobs_by_user", on: "jobs", columns: ["user_id", "created_at"])
            try db.create(table: "job_stages") { t in
                t.column("job_id", .text).notNull().references("jobs", onDelete: .cascade)
                t.column("sequence", .integer).notNull()
                t.column("ts", .datetime).notNull()
                t.column("stage", .text).notNull()
                t.column("level", .text).notNull()
                t.column("detail", .text).notNull()
                t.primaryKey(["job_id", "sequence"])
            }
            try db.create(table: "agent_events") { t in
                t.column("job_id", .text).notNull().references("jobs", onDelete: .cascade)
                t.column("sequence", .integer).notNull()
                t.column("ts", .datetime).notNull()
                t.column("type", .text).notNull()
                t.column("json", .text).notNull()
                t.column("raw", .text).notNull()
                t.primaryKey(["job_id", "sequence"])
            }
            try db.create(table: "artifacts") { t in
                t.column("job_id", .text).notNull().references("jobs", onDelete: .cascade)
                t.column("path", .text).notNull()
                t.column("size", .integer).notNull()
                t.column("kind", .text).notNull()
                t.column("content", .blob)
                t.column("stored_at", .text)
                t.primaryKey(["job_id", "path"])
            }
        }
        migrator.registerMigration("v2-access") { db in
            try db.create(table: "api_keys") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull()
                t.column("prefix", .text).notNull()
                t.column("hash", .text).notNull().unique()
                t.column("scopes", .text).notNull()
                t.column("tenant", .text).notNull()
                t.column("tier", .text).notNull()
                t.column("rateLimitPerHour", .integer)
                t.column("createdAt", .datetime).notNull()
                t.column("revokedAt", .datetime)
            }
            try db.create(table: "workspaces") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull().unique()
                t.column("tenant", .text).notNull()
                t.column("sizeBytes", .integer).notNull()
                t.column("createdAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v3-clients") { db in
            try db.create(table: "clients") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull()
                t.column("secretHash", .text).notNull()
                t.column("userId", .text).notNull()
                t.column("org", .text)
                t.column("orgAdmin", .boolean).notNull()
                t.column("createdAt", .datetime).notNull()
                t.column("revokedAt", .datetime)
            }
        }
        migrator.registerMigration("v4-knaps", migrate: createKnapTables)
        // The scheduler looks for unsubmitted runs of the last day at every pass.
        migrator.registerMigration("v5-knap-runs-by-time") { db in
            try db.create(index: "knap_runs_by_time", on: "knap_runs", columns: ["createdAt"])
        }
        migrator.registerMigration("v6-cluster", migrate: createClusterTables)
        return migrator
    }
}

extension SandboxRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "sandboxes"
}

extension JobRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "jobs"
}

extension APIKeyRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "api_keys"
}

extension ClientRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "clients"
}

extension WorkspaceRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "workspaces"
}

// MARK: - Access

extension SQLiteStore {
    public func insertAPIKey(_ key: APIKeyRecord) async throws {
        try await write("recording API key \(key.id)") { db in try key.insert(db) }
    }

    public func apiKey(hash: String) async throws -> APIKeyRecord? {
        try await cached("key:" + hash) {
            try await read("looking up an API key") { db in
                try APIKeyRecord.fetchOne(db.cachedStatement(sql: "SELECT * FROM api_keys WHERE hash = ?"), arguments: [hash])
            }
        }
    }

    public func apiKeys() async throws -> [APIKeyRecord] {
        try await read("listing API keys") { db in try APIKeyRecord.fetchAll(db, sql: "SELECT * FROM api_keys ORDER BY createdAt") }
    }

    @discardableResult
    public func revokeAPIKey(id: String) async throws -> Bool {
        try await write("revoking API key \(id)") { db in
            try db.execute(sql: "UPDATE api_keys SET revokedAt = COALESCE(revokedAt, ?) WHERE id = ?", arguments: [Date(), id])
            return db.changesCount > 0
        }
    }

    public func insertClient(_ client: ClientRecord) async throws {
        try await write("recording client \(client.id)") { db in try client.insert(db) }
    }

    public func client(id: String) async throws -> ClientRecord? {
        try await read("reading client \(id)") { db in try ClientRecord.fetchOne(db, key: id) }
    }

    public func clients() async throws -> [ClientRecord] {
        try await read("listing clients") { db in try ClientRecord.fetchAll(db, sql: "SELECT * FROM clients ORDER BY createdAt") }
    }

    @discardableResult
    public func revokeClient(id: String) async throws -> Bool {
        try await write("revoking client \(id)") { db in
            try db.execute(sql: "UPDATE clients SET revokedAt = COALESCE(revokedAt, ?) WHERE id = ?", arguments: [Date(), id])
            return db.changesCount > 0
        }
    }

    public func insertWorkspace(_ workspace: WorkspaceRecord) async throws {
        try await write("recording workspace \(workspace.name)") { db in try workspace.insert(db) }
    }

    public func workspace(name: String) async throws -> WorkspaceRecord? {
        try await read("reading workspace \(name)") { db in
            try WorkspaceRecord.fetchOne(db, sql: "SELECT * FROM workspaces WHERE name = ?", arguments: [name])
        }
    }

    public func workspaces(tenant: String?) async throws -> [WorkspaceRecord] {
        try await read("listing workspaces") { db in
            if let tenant {
                return try WorkspaceRecord.fetchAll(db, sql: "SELECT * FROM workspaces WHERE tenant = ? ORDER BY createdAt", arguments: [tenant])
            }
            return try WorkspaceRecord.fetchAll(db, sql: "SELECT * FROM workspaces ORDER BY createdAt")
        }
    }
}

// MARK: - Sandboxes

extension SQLiteStore {
    public func saveSandbox(_ record: SandboxRecord) async throws {
        try await write("saving sandbox \(record.id)") { db in try record.save(db) }
    }

    public func sandbox(id: String) async throws -> SandboxRecord? {
        try await read("reading sandbox \(id)") { db in try SandboxRecord.fetchOne(db, key: id) }
    }

    public func liveSandboxes(node: String) async throws -> [SandboxRecord] {
        try await read("listing sandboxes") { db in
            try SandboxRecord.fetchAll(db, sql: """
                SELECT * FROM sandboxes WHERE node = ? AND state IN ('creating', 'active', 'paused') ORDER BY createdAt
                """, arguments: [node])
        }
    }

    public func liveSandbox(session: String) async throws -> SandboxRecord? {
        try await read("finding the sandbox of a session") { db in
            try SandboxRecord.fetchOne(db, sql: """
                SELECT * FROM sandboxes WHERE sessionId = ? AND state IN ('creating', 'active', 'paused')
                ORDER BY lastUsedAt DESC LIMIT 1
                """, arguments: [session])
        }
    }
}

// MARK: - Jobs

extension SQLiteStore {
    public func insertJob(_ job: JobRecord) async throws {
        try await write("recording job \(job.id)") { db in try job.insert(db) }
    }

    public func updateJob(_ job: JobRecord) async throws {
        try await write("updating job \(job.id)") { db in
            do {
                try job.update(db)
            } catch is RecordError {
                throw StorageError(.notFound, "no job \(job.id)")
            }
        }
    }

    public func job(id: String) async throws -> JobRecord? {
        try await read("reading job \(id)") { db in try JobRecord.fetchOne(db, key: id) }
    }

    public func jobs(_ query: JobQuery) async throws -> (jobs: [JobRecord], total: Int) {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let tenant = query.tenant { conditions.append("tenant = ?"); arguments.append(tenant) }
        if let status = query.status { conditions.append("status = ?"); arguments.append(status.rawValue) }
        if let jobType = query.jobType { conditions.append("job_type = ?"); arguments.append(jobType) }
        if let userId = query.userId { conditions.append("user_id = ?"); arguments.append(userId) }
        if let from = query.createdFrom { conditions.append("created_at >= ?"); arguments.append(from) }
        if let to = query.createdTo { conditions.append("created_at <= ?"); arguments.append(to) }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let filter = StatementArguments(arguments)
        let page = StatementArguments(arguments + [query.limit, query.offset])
        return try await read("listing jobs") { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs \(whereClause)", arguments: filter) ?? 0
            let jobs = try JobRecord.fetchAll(db, sql: """
                SELECT * FROM jobs \(whereClause) ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?
                """, arguments: page)
            return (jobs, total)
        }
    }

    public func unfinishedJobs() async throws -> [JobRecord] {
        try await read("listing unfinished jobs") { db in
            try JobRecord.fetchAll(db, sql: "SELECT * FROM jobs WHERE status IN ('pending', 'running') ORDER BY created_at")
        }
    }

    @discardableResult
    public func appendStage(jobId: String, _ event: StageEvent) async throws -> StageEvent {
        try await write("recording a stage of job \(jobId)") { db in try Self.insertStage(db, jobId: jobId, event) }
    }

    /// Numbers the stage after the job's last one, inside the caller's transaction.
    @discardableResult
    static func insertStage(_ db: Database, jobId: String, _ event: StageEvent) throws -> StageEvent {
        var numbered = event
        numbered.sequence = (try Int.fetchOne(db, sql: "SELECT MAX(sequence) FROM job_stages WHERE job_id = ?",
                                              arguments: [jobId]) ?? 0) + 1
        try db.execute(sql: """
            INSERT INTO job_stages (job_id, sequence, ts, stage, level, detail) VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [jobId, numbered.sequence, numbered.ts, numbered.stage, numbered.level.rawValue, numbered.detail])
        return numbered
    }

    public func stages(jobId: String) async throws -> [StageEvent] {
        try await read("reading the stages of job \(jobId)") { db in try Self.stages(db, jobId: jobId) }
    }

    public func jobDetail(id: String) async throws -> JobDetail? {
        // The hottest read of the API (every poll of a job): from the read cache while nothing changed, else with
        // cached statements, so SQLite compiles each once.
        try await cached("job:" + id) {
            try await read("reading job \(id)") { db in
                guard let job = try JobRecord.fetchOne(db.cachedStatement(sql: "SELECT * FROM jobs WHERE id = ?"), arguments: [id]) else { return nil }
                let paths = try String.fetchAll(db.cachedStatement(sql: "SELECT path FROM artifacts WHERE job_id = ? ORDER BY path"), arguments: [id])
                let state = try job.sandboxId.flatMap {
                    try String.fetchOne(db.cachedStatement(sql: "SELECT state FROM sandboxes WHERE id = ?"), arguments: [$0])
                        .flatMap(SandboxRecord.State.init(rawValue:))
                }
                return JobDetail(job: job, stages: try Self.stages(db, jobId: id), artifactPaths: paths, sandboxState: state)
            }
        }
    }

    private static func stages(_ db: Database, jobId: String) throws -> [StageEvent] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM job_stages WHERE job_id = ? ORDER BY sequence"), arguments: [jobId]).map { row in
            StageEvent(sequence: row["sequence"], ts: row["ts"], stage: row["stage"],
                       level: StageEvent.Level(rawValue: row["level"]) ?? .info, detail: row["detail"])
        }
    }

    @discardableResult
    public func appendAgentEvents(jobId: String, _ events: [AgentEventRow]) async throws -> [AgentEventRow] {
        guard !events.isEmpty else { return [] }
        return try await write("recording agent events of job \(jobId)") { db in
            var next = (try Int.fetchOne(db, sql: "SELECT MAX(sequence) FROM agent_events WHERE job_id = ?",
                                         arguments: [jobId]) ?? 0) + 1
            var numbered: [AgentEventRow] = []
            for var event in events {
                event.sequence = next
                next += 1
                try db.execute(sql: """
                    INSERT INTO agent_events (job_id, sequence, ts, type, json, raw) VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [jobId, event.sequence, event.ts, event.type, event.json, event.raw])
                numbered.append(event)
            }
            return numbered
        }
    }

    public func agentEvents(jobId: String, after: Int) async throws -> [AgentEventRow] {
        try await read("reading agent events of job \(jobId)") { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM agent_events WHERE job_id = ? AND sequence > ? ORDER BY sequence
                """, arguments: [jobId, after]).map { row in
                AgentEventRow(sequence: row["sequence"], ts: row["ts"], type: row["type"], json: row["json"], raw: row["raw"])
            }
        }
    }

    public func saveArtifacts(jobId: String, _ artifacts: [ArtifactRecord]) async throws {
        try await write("recording artifacts of job \(jobId)") { db in
            for artifact in artifacts {
                try db.execute(sql: """
                    INSERT OR REPLACE INTO artifacts (job_id, path, size, kind, content, stored_at) VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [jobId, artifact.path, artifact.size, artifact.kind, artifact.content, artifact.storedAt])
            }
        }
    }

    public func artifacts(jobId: String) async throws -> [ArtifactRecord] {
        try await read("reading artifacts of job \(jobId)") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM artifacts WHERE job_id = ? ORDER BY path", arguments: [jobId]).map { row in
                ArtifactRecord(path: row["path"], size: row["size"], kind: row["kind"], content: row["content"],
                               storedAt: row["stored_at"])
            }
        }
    }
}
