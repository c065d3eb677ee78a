import PostgresNIO

extension PostgresStore {
    /// Versioned schema changes, each applied once in its own transaction. The transaction-scoped advisory lock lets
    /// nodes that start together take turns instead of racing to create the same tables.
    static let migrations: [(version: Int, statements: [String])] = [
        (1, [
            """
            CREATE TABLE jobs (id text PRIMARY KEY, tenant text NOT NULL, job_type text NOT NULL, status text NOT NULL,
              user_id text, node text, sandbox_id text, claimed_by text, created_at timestamptz NOT NULL, doc jsonb NOT NULL)
            """,
            "CREATE INDEX jobs_by_tenant ON jobs (tenant, created_at)",
            "CREATE INDEX jobs_by_user ON jobs (user_id, created_at)",
            "CREATE INDEX jobs_unfinished ON jobs (status, created_at) WHERE status IN ('pending', 'running')",
            "CREATE INDEX jobs_claimable ON jobs (created_at) WHERE status = 'pending' AND claimed_by IS NULL",
            """
            CREATE TABLE job_stages (job_id text NOT NULL REFERENCES jobs ON DELETE CASCADE, sequence int NOT NULL,
              doc jsonb NOT NULL, PRIMARY KEY (job_id, sequence))
            """,
            """
            CREATE TABLE agent_events (job_id text NOT NULL REFERENCES jobs ON DELETE CASCADE, sequence int NOT NULL,
              doc jsonb NOT NULL, PRIMARY KEY (job_id, sequence))
            """,
            """
            CREATE TABLE artifacts (job_id text NOT NULL REFERENCES jobs ON DELETE CASCADE, path text NOT NULL,
              doc jsonb NOT NULL, PRIMARY KEY (job_id, path))
            """,
            """
            CREATE TABLE sandboxes (id text PRIMARY KEY, node text NOT NULL, state text NOT NULL, session_id text,
              created_at timestamptz NOT NULL, last_used_at timestamptz NOT NULL, doc jsonb NOT NULL)
            """,
            "CREATE INDEX sandboxes_live ON sandboxes (node, created_at) WHERE state IN ('creating', 'active', 'paused')",
            "CREATE INDEX sandboxes_by_session ON sandboxes (session_id)",
            "CREATE TABLE api_keys (id text PRIMARY KEY, hash text NOT NULL UNIQUE, created_at timestamptz NOT NULL, doc jsonb NOT NULL)",
            "CREATE TABLE clients (id text PRIMARY KEY, created_at timestamptz NOT NULL, doc jsonb NOT NULL)",
            """
            CREATE TABLE workspaces (id text PRIMARY KEY, name text NOT NULL UNIQUE, tenant text NOT NULL,
              created_at timestamptz NOT NULL, doc jsonb NOT NULL)
            """,
            "CREATE TABLE oauth_tokens (hash text PRIMARY KEY, client_id text NOT NULL, doc jsonb NOT NULL)",
            """
            CREATE TABLE knaps (uuid text PRIMARY KEY, creation_user_id text NOT NULL, visibility text NOT NULL,
              schedule_type text NOT NULL, is_active boolean NOT NULL, next_run_at timestamptz,
              creation_timestamp timestamptz NOT NULL, doc jsonb NOT NULL)
            """,
            "CREATE INDEX knaps_due ON knaps (next_run_at) WHERE is_active AND schedule_type = 'scheduled'",
            """
            CREATE TABLE knap_runs (id text PRIMARY KEY, seq bigserial, knap_uuid text, chat_id text NOT NULL,
              job_id text NOT NULL UNIQUE, slot_at timestamptz, created_at timestamptz NOT NULL, doc jsonb NOT NULL)
            """,
            "CREATE INDEX knap_runs_by_knap ON knap_runs (knap_uuid, created_at)",
            "CREATE INDEX knap_runs_by_chat ON knap_runs (chat_id, created_at)",
            "CREATE INDEX knap_runs_by_time ON knap_runs (created_at)",
            // The scheduler's exactly-once rule: one run per knap and slot, whichever node claims it.
            "CREATE UNIQUE INDEX knap_runs_one_per_slot ON knap_runs (knap_uuid, slot_at) WHERE slot_at IS NOT NULL",
            """
            CREATE TABLE nodes (id text PRIMARY KEY, role text NOT NULL, state text NOT NULL,
              lease_until timestamptz NOT NULL, doc jsonb NOT NULL)
            """,
            """
            CREATE TABLE node_requests (id text PRIMARY KEY, node text NOT NULL, created_at timestamptz NOT NULL,
              doc jsonb NOT NULL)
            """,
            "CREATE INDEX node_requests_by_node ON node_requests (node, created_at)",
            "CREATE TABLE counters (key text NOT NULL, \"window\" bigint NOT NULL, count int NOT NULL, PRIMARY KEY (key, \"window\"))",
            "CREATE TABLE secrets (name text PRIMARY KEY, value bytea NOT NULL)",
        ]),
    ]

    func migrate() async throws(StorageError) {
        try await transaction("bringing the schema up to date") { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(7250019)", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS knify_migrations (version int PRIMARY KEY)", logger: logger)
            let applied = Set(try await connection.values(Int.self, "SELECT version FROM knify_migrations", logger: logger))
            for migration in Self.migrations where !applied.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO knify_migrations (version) VALUES (\(migration.version))", logger: logger)
            }
        }
    }
}
