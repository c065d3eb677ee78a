import Foundation
import PostgresNIO

// MARK: - Jobs

extension PostgresStore {
    public func insertJob(_ job: JobRecord) async throws {
        let doc = try Self.doc(job)
        try await execute("recording job \(job.id)", """
            INSERT INTO jobs (id, tenant, job_type, status, user_id, node, sandbox_id, created_at, doc)
            VALUES (\(job.id), \(job.tenant), \(job.jobType), \(job.status.rawValue), \(job.userId), \(job.node),
                    \(job.sandboxId), \(job.createdAt), \(doc)::jsonb)
            """)
    }

    public func updateJob(_ job: JobRecord) async throws {
        let doc = try Self.doc(job)
        let updated = try await call("updating job \(job.id)") {
            try await client.query("""
                UPDATE jobs SET tenant = \(job.tenant), job_type = \(job.jobType), status = \(job.status.rawValue),
                  user_id = \(job.userId), node = \(job.node), sandbox_id = \(job.sandboxId), doc = \(doc)::jsonb
                WHERE id = \(job.id) RETURNING id
                """, logger: logger).collect().count
        }
        guard updated == 1 else { throw StorageError(.notFound, "no job \(job.id)") }
    }

    public func job(id: String) async throws -> JobRecord? {
        try await record("reading job \(id)", JobRecord.self, "SELECT doc::text FROM jobs WHERE id = \(id)")
    }

    public func jobs(_ query: JobQuery) async throws -> (jobs: [JobRecord], total: Int) {
        let status = query.status?.rawValue
        let filter = """
            ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR job_type = $3)
            AND ($4::text IS NULL OR user_id = $4) AND ($5::timestamptz IS NULL OR created_at >= $5)
            AND ($6::timestamptz IS NULL OR created_at <= $6)
            """
        var bindings = PostgresBindings()
        bindings.append(query.tenant)
        bindings.append(status)
        bindings.append(query.jobType)
        bindings.append(query.userId)
        bindings.append(query.createdFrom)
        bindings.append(query.createdTo)
        var page = bindings
        page.append(query.limit)
        page.append(query.offset)
        return try await call("listing jobs") {
            var total = 0
            for try await count in try await client.query(PostgresQuery(unsafeSQL: "SELECT COUNT(*) FROM jobs WHERE \(filter)", binds: bindings),
                                                           logger: logger).decode(Int.self) {
                total = count
            }
            var jobs: [JobRecord] = []
            let rows = try await client.query(PostgresQuery(unsafeSQL: """
                SELECT doc::text FROM jobs WHERE \(filter) ORDER BY created_at DESC, id DESC LIMIT $7 OFFSET $8
                """, binds: page), logger: logger)
            for try await text in rows.decode(String.self) { jobs.append(try Self.decode(JobRecord.self, text)) }
            return (jobs, total)
        }
    }

    public func unfinishedJobs() async throws -> [JobRecord] {
        try await records("listing unfinished jobs", JobRecord.self,
                          "SELECT doc::text FROM jobs WHERE status IN ('pending', 'running') ORDER BY created_at, id")
    }

    @discardableResult
    public func appendStage(jobId: String, _ event: StageEvent) async throws -> StageEvent {
        try await transaction("recording a stage of job \(jobId)") { connection in
            try await Self.insertStage(connection, jobId: jobId, event, logger: logger)
        }
    }

    /// Numbers the stage after the job's last one, inside the caller's transaction. The job's row is locked first,
    /// so two nodes appending to one job take turns instead of picking the same number.
    @discardableResult
    static func insertStage(_ connection: PostgresConnection, jobId: String, _ event: StageEvent, logger: Logger) async throws -> StageEvent {
        try await connection.query("SELECT 1 FROM jobs WHERE id = \(jobId) FOR UPDATE", logger: logger)
        var numbered = event
        numbered.sequence = (try await connection.values(Int.self, """
            SELECT COALESCE(MAX(sequence), 0) FROM job_stages WHERE job_id = \(jobId)
            """, logger: logger).first ?? 0) + 1
        let doc = try doc(numbered)
        try await connection.query("""
            INSERT INTO job_stages (job_id, sequence, doc) VALUES (\(jobId), \(numbered.sequence), \(doc)::jsonb)
            """, logger: logger)
        return numbered
    }

    public func stages(jobId: String) async throws -> [StageEvent] {
        try await records("reading the stages of job \(jobId)", StageEvent.self,
                          "SELECT doc::text FROM job_stages WHERE job_id = \(jobId) ORDER BY sequence")
    }

    public func jobDetail(id: String) async throws -> JobDetail? {
        try await transaction("reading job \(id)") { connection in
            guard let job = try await connection.records(JobRecord.self, "SELECT doc::text FROM jobs WHERE id = \(id)", logger: logger).first else {
                return nil
            }
            let stages = try await connection.records(StageEvent.self, """
                SELECT doc::text FROM job_stages WHERE job_id = \(id) ORDER BY sequence
                """, logger: logger)
            let paths = try await connection.values(String.self, "SELECT path FROM artifacts WHERE job_id = \(id) ORDER BY path",
                                                    logger: logger)
            var state: SandboxRecord.State?
            if let sandboxId = job.sandboxId {
                state = try await connection.values(String.self, "SELECT state FROM sandboxes WHERE id = \(sandboxId)", logger: logger)
                    .first.flatMap(SandboxRecord.State.init(rawValue:))
            }
            return JobDetail(job: job, stages: stages, artifactPaths: paths, sandboxState: state)
        }
    }

    @discardableResult
    public func appendAgentEvents(jobId: String, _ events: [AgentEventRow]) async throws -> [AgentEventRow] {
        guard !events.isEmpty else { return [] }
        return try await transaction("recording agent events of job \(jobId)") { connection in
            try await connection.query("SELECT 1 FROM jobs WHERE id = \(jobId) FOR UPDATE", logger: logger)
            var next = (try await connection.values(Int.self, """
                SELECT COALESCE(MAX(sequence), 0) FROM agent_events WHERE job_id = \(jobId)
                """, logger: logger).first ?? 0) + 1
            var numbered: [AgentEventRow] = []
            for var event in events {
                event.sequence = next
                next += 1
                let doc = try Self.doc(event)
                try await connection.query("""
                    INSERT INTO agent_events (job_id, sequence, doc) VALUES (\(jobId), \(event.sequence), \(doc)::jsonb)
                    """, logger: logger)
                numbered.append(event)
            }
            return numbered
        }
    }

    public func agentEvents(jobId: String, after: Int) async throws -> [AgentEventRow] {
        try await records("reading agent events of job \(jobId)", AgentEventRow.self, """
            SELECT doc::text FROM agent_events WHERE job_id = \(jobId) AND sequence > \(after) ORDER BY sequence
            """)
    }

    public func saveArtifacts(jobId: String, _ artifacts: [ArtifactRecord]) async throws {
        try await transaction("recording artifacts of job \(jobId)") { connection in
            for artifact in artifacts {
                let doc = try Self.doc(artifact)
                try await connection.query("""
                    INSERT INTO artifacts (job_id, path, doc) VALUES (\(jobId), \(artifact.path), \(doc)::jsonb)
                    ON CONFLICT (job_id, path) DO UPDATE SET doc = EXCLUDED.doc
                    """, logger: logger)
            }
        }
    }

    public func artifacts(jobId: String) async throws -> [ArtifactRecord] {
        try await records("reading artifacts of job \(jobId)", ArtifactRecord.self,
                          "SELECT doc::text FROM artifacts WHERE job_id = \(jobId) ORDER BY path")
    }
}

// MARK: - Sandboxes

extension PostgresStore {
    public func saveSandbox(_ record: SandboxRecord) async throws {
        let doc = try Self.doc(record)
        try await execute("saving sandbox \(record.id)", """
            INSERT INTO sandboxes (id, node, state, session_id, created_at, last_used_at, doc)
            VALUES (\(record.id), \(record.node), \(record.state.rawValue), \(record.sessionId), \(record.createdAt),
                    \(record.lastUsedAt), \(doc)::jsonb)
            ON CONFLICT (id) DO UPDATE SET node = EXCLUDED.node, state = EXCLUDED.state, session_id = EXCLUDED.session_id,
              last_used_at = EXCLUDED.last_used_at, doc = EXCLUDED.doc
            """)
    }

    public func sandbox(id: String) async throws -> SandboxRecord? {
        try await record("reading sandbox \(id)", SandboxRecord.self, "SELECT doc::text FROM sandboxes WHERE id = \(id)")
    }

    public func liveSandboxes(node: String) async throws -> [SandboxRecord] {
        try await records("listing sandboxes", SandboxRecord.self, """
            SELECT doc::text FROM sandboxes WHERE node = \(node) AND state IN ('creating', 'active', 'paused')
            ORDER BY created_at, id
            """)
    }

    public func liveSandbox(session: String) async throws -> SandboxRecord? {
        try await record("finding the sandbox of a session", SandboxRecord.self, """
            SELECT doc::text FROM sandboxes WHERE session_id = \(session) AND state IN ('creating', 'active', 'paused')
            ORDER BY last_used_at DESC LIMIT 1
            """)
    }
}

// MARK: - Access

extension PostgresStore {
    public func insertAPIKey(_ key: APIKeyRecord) async throws {
        let doc = try Self.doc(key)
        try await execute("recording API key \(key.id)", """
            INSERT INTO api_keys (id, hash, created_at, doc) VALUES (\(key.id), \(key.hash), \(key.createdAt), \(doc)::jsonb)
            """)
    }

    public func apiKey(hash: String) async throws -> APIKeyRecord? {
        try await record("looking up an API key", APIKeyRecord.self, "SELECT doc::text FROM api_keys WHERE hash = \(hash)")
    }

    public func apiKeys() async throws -> [APIKeyRecord] {
        try await records("listing API keys", APIKeyRecord.self, "SELECT doc::text FROM api_keys ORDER BY created_at, id")
    }

    @discardableResult
    public func revokeAPIKey(id: String) async throws -> Bool {
        let now = Date()
        return try await modify("revoking API key \(id)", APIKeyRecord.self, table: "api_keys", key: "id", id) { key in
            key.revokedAt = key.revokedAt ?? now
            return true
        }
    }

    public func insertClient(_ client: ClientRecord) async throws {
        let doc = try Self.doc(client)
        try await execute("recording client \(client.id)", """
            INSERT INTO clients (id, created_at, doc) VALUES (\(client.id), \(client.createdAt), \(doc)::jsonb)
            """)
    }

    public func client(id: String) async throws -> ClientRecord? {
        try await record("reading client \(id)", ClientRecord.self, "SELECT doc::text FROM clients WHERE id = \(id)")
    }

    public func clients() async throws -> [ClientRecord] {
        try await records("listing clients", ClientRecord.self, "SELECT doc::text FROM clients ORDER BY created_at, id")
    }

    @discardableResult
    public func revokeClient(id: String) async throws -> Bool {
        let now = Date()
        return try await modify("revoking client \(id)", ClientRecord.self, table: "clients", key: "id", id) { client in
            client.revokedAt = client.revokedAt ?? now
            return true
        }
    }

    public func insertWorkspace(_ workspace: WorkspaceRecord) async throws {
        let doc = try Self.doc(workspace)
        try await execute("recording workspace \(workspace.name)", """
            INSERT INTO workspaces (id, name, tenant, created_at, doc)
            VALUES (\(workspace.id), \(workspace.name), \(workspace.tenant), \(workspace.createdAt), \(doc)::jsonb)
            """)
    }

    public func workspace(name: String) async throws -> WorkspaceRecord? {
        try await record("reading workspace \(name)", WorkspaceRecord.self, "SELECT doc::text FROM workspaces WHERE name = \(name)")
    }

    public func workspaces(tenant: String?) async throws -> [WorkspaceRecord] {
        try await records("listing workspaces", WorkspaceRecord.self, """
            SELECT doc::text FROM workspaces WHERE (\(tenant)::text IS NULL OR tenant = \(tenant)) ORDER BY created_at, id
            """)
    }
}
