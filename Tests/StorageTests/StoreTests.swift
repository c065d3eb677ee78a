import Foundation
import Testing

@testable import Storage

@Suite("Store: jobs, events, artifacts, sandboxes (SQLite and PostgreSQL)")
struct StoreTests {
    func job(_ id: String, tenant: String = "ws_a", type: String = "cursor_task", user: String? = nil,
             created: Date = Date()) -> JobRecord {
        JobRecord(id: id, tenant: tenant, jobType: type, specJSON: #"{"job_type":"\#(type)","prompt":"p"}"#, userId: user,
                  createdAt: created)
    }

    @Test("jobs round-trip and are read back by another opening of the store", arguments: Backend.allCases)
    func jobsPersist(backend: Backend) async throws {
        try await backend.withStores(2) { stores in
            let (store, reopened) = (stores[0], stores[1])
            var record = job("job_1")
            try await store.insertJob(record)
            record.status = .completed
            record.sandboxId = "sbx_1"
            record.agentSessionId = "3f0c2a9e-5d1b-4c7e-9a55-0b8e2f6d1c44"
            record.startedAt = Date()
            record.completedAt = Date()
            try await store.updateJob(record)

            let loaded = try #require(try await reopened.job(id: "job_1"))
            #expect(loaded.status == .completed)
            #expect(loaded.sandboxId == "sbx_1")
            #expect(loaded.agentSessionId == record.agentSessionId)
            #expect(loaded.specJSON == record.specJSON)
            #expect(try await reopened.job(id: "job_missing") == nil)
        }
    }

    @Test("updating a job that does not exist is notFound; inserting one twice is a conflict", arguments: Backend.allCases)
    func missingAndDuplicate(backend: Backend) async throws {
        try await backend.withStore { store in
            let missing = await #expect(throws: StorageError.self) { try await store.updateJob(job("job_x")) }
            #expect(missing?.code == .notFound)
            try await store.insertJob(job("job_y"))
            let duplicate = await #expect(throws: StorageError.self) { try await store.insertJob(job("job_y")) }
            #expect(duplicate?.code == .conflict)
        }
    }

    @Test("listing: newest first, filters, tenant isolation, totals for pagination", arguments: Backend.allCases)
    func listing(backend: Backend) async throws {
        try await backend.withStore { store in
            let base = Date(timeIntervalSince1970: 1_800_000_000)
            for index in 0..<25 {
                var record = job(String(format: "job_%02d", index), tenant: index % 5 == 0 ? "ws_b" : "ws_a",
                                 type: index % 2 == 0 ? "cursor_task" : "claude_task", user: index < 10 ? "u1" : "u2",
                                 created: base.addingTimeInterval(Double(index)))
                if index % 3 == 0 { record.status = .failed }
                try await store.insertJob(record)
            }
            let page = try await store.jobs(JobQuery(tenant: "ws_a", limit: 5, offset: 0))
            #expect(page.total == 20)
            #expect(page.jobs.map(\.id) == ["job_24", "job_23", "job_22", "job_21", "job_19"])
            let second = try await store.jobs(JobQuery(tenant: "ws_a", limit: 5, offset: 5))
            #expect(second.jobs.first?.id == "job_18")
            #expect(try await store.jobs(JobQuery(status: .failed, limit: 100)).total == 9)
            #expect(try await store.jobs(JobQuery(jobType: "claude_task", limit: 100)).total == 12)
            let window = try await store.jobs(JobQuery(userId: "u1", createdFrom: base.addingTimeInterval(3),
                                                       createdTo: base.addingTimeInterval(6), limit: 100))
            #expect(window.jobs.map(\.id) == ["job_06", "job_05", "job_04", "job_03"])
            #expect(try await store.unfinishedJobs().count == 16)
        }
    }

    @Test("stage and agent events are numbered per job and can be read after any sequence", arguments: Backend.allCases)
    func events(backend: Backend) async throws {
        try await backend.withStore { store in
            try await store.insertJob(job("job_e"))
            try await store.insertJob(job("job_f"))
            #expect(try await store.appendStage(jobId: "job_e", StageEvent(stage: "queued", detail: "Job queued")).sequence == 1)
            #expect(try await store.appendStage(jobId: "job_e", StageEvent(stage: "sandbox_created", detail: "Sandbox provisioned")).sequence == 2)
            #expect(try await store.stages(jobId: "job_e").map(\.stage) == ["queued", "sandbox_created"])

            let rows = (0..<5).map { AgentEventRow(ts: Date(), type: "agent_message", json: #"{"n":\#($0)}"#, raw: "line \($0)") }
            let numbered = try await store.appendAgentEvents(jobId: "job_e", Array(rows[0..<3]))
            #expect(numbered.map(\.sequence) == [1, 2, 3])
            try await store.appendAgentEvents(jobId: "job_f", [rows[0]])
            #expect(try await store.appendAgentEvents(jobId: "job_e", Array(rows[3...])).map(\.sequence) == [4, 5])
            #expect(try await store.agentEvents(jobId: "job_e", after: 3).map(\.raw) == ["line 3", "line 4"])
            #expect(try await store.agentEvents(jobId: "job_f", after: 0).count == 1)
        }
    }

    @Test("artifacts keep binary contents exactly", arguments: Backend.allCases)
    func artifacts(backend: Backend) async throws {
        try await backend.withStore { store in
            try await store.insertJob(job("job_a"))
            let binary = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 * 7) })
            try await store.saveArtifacts(jobId: "job_a", [
                ArtifactRecord(path: "fibonacci.py", size: 5, kind: "text", content: Data("print".utf8)),
                ArtifactRecord(path: "blob.bin", size: Int64(binary.count), kind: "binary", content: binary),
            ])
            let stored = try await store.artifacts(jobId: "job_a")
            #expect(stored.map(\.path) == ["blob.bin", "fibonacci.py"])
            #expect(stored.first?.content == binary)
        }
    }

    @Test("sandbox records: live by node and by session", arguments: Backend.allCases)
    func sandboxes(backend: Backend) async throws {
        try await backend.withStore { store in
            var a = SandboxRecord(id: "sbx_a", node: "n1", policy: "default", image: "img", state: .active, sessionId: "s1")
            try await store.saveSandbox(a)
            try await store.saveSandbox(SandboxRecord(id: "sbx_b", node: "n2", policy: "default", image: "img", state: .paused))
            #expect(try await store.liveSandboxes(node: "n1").map(\.id) == ["sbx_a"])
            #expect(try await store.liveSandbox(session: "s1")?.id == "sbx_a")
            a.state = .cleaned
            try await store.saveSandbox(a)
            #expect(try await store.liveSandbox(session: "s1") == nil)
            #expect(try await store.sandbox(id: "sbx_a")?.state == .cleaned)
        }
    }
}

@Suite("API keys and workspaces")
struct AccessStoreTests {
    @Test("a Knaps client is stored with its secret's hash only, found by id, listed and revoked", arguments: Backend.allCases)
    func clients(backend: Backend) async throws {
        try await backend.withStore { store in
            let (secret, record) = ClientRecord.make(name: "zap", userId: "u_1", org: "acme", orgAdmin: true)
            try await store.insertClient(record)
            let found = try #require(try await store.client(id: record.id))
            #expect(found.secretHash == APIKeys.hash(secret) && found.secretHash != secret)
            #expect(found.userId == "u_1" && found.org == "acme" && found.orgAdmin && !found.isRevoked)
            #expect(try await store.clients().map(\.id) == [record.id])
            #expect(try await store.revokeClient(id: record.id))
            #expect(try await store.client(id: record.id)?.isRevoked == true)
            #expect(try await store.revokeClient(id: "knc_missing") == false)
        }
    }

    @Test("a key is stored only as its hash, found by it, listed and revoked", arguments: Backend.allCases)
    func apiKeys(backend: Backend) async throws {
        try await backend.withStore { store in
            let (key, record) = APIKeys.make(name: "ci", scopes: ["jobs:read", "jobs:write"], tenant: "ws_a", tier: "pro")
            #expect(APIKeys.looksLikeKey(key))
            #expect(key.hasPrefix("knify_live_"))
            try await store.insertAPIKey(record)
            let found = try #require(try await store.apiKey(hash: APIKeys.hash(key)))
            #expect(found.scopes == ["jobs:read", "jobs:write"])
            #expect(found.tenant == "ws_a" && found.tier == "pro" && !found.isRevoked)
            #expect(try await store.apiKey(hash: APIKeys.hash(key + "x")) == nil)
            #expect(try await store.revokeAPIKey(id: record.id))
            #expect(try await store.apiKey(hash: APIKeys.hash(key))?.isRevoked == true)
            #expect(try await store.revokeAPIKey(id: "key_missing") == false)
            #expect(try await store.apiKeys().count == 1)
            #expect(!APIKeys.looksLikeKey("knify_live_short"))
            #expect(APIKeys.make(name: "t", scopes: [], tenant: "w", tier: "free", environment: .test).key.hasPrefix("knify_test_"))
        }
    }

    @Test("cached key and job reads see at once what another process commits (a revoke, a stage, a status)")
    func readCacheFollowsEveryCommit() async throws {
        try await Backend.sqlite.withStores(2) { stores in
            let (server, cli) = (stores[0], stores[1])
            let (key, record) = APIKeys.make(name: "ci", scopes: ["jobs:read"], tenant: "ws_a", tier: "pro")
            try await server.insertAPIKey(record)
            var record2 = JobRecord(id: "job_cache", tenant: "ws_a", jobType: "cursor_task", specJSON: "{}")
            try await server.insertJob(record2)
            for _ in 0..<3 {  // repeated reads: the later ones are the cache's
                #expect(try await server.apiKey(hash: APIKeys.hash(key))?.isRevoked == false)
                #expect(try await server.jobDetail(id: record2.id)?.stages.isEmpty == true)
            }
            #expect(try await cli.revokeAPIKey(id: record.id))
            #expect(try await server.apiKey(hash: APIKeys.hash(key))?.isRevoked == true)
            try await cli.appendStage(jobId: record2.id, StageEvent(stage: "queued", level: .info, detail: "d"))
            #expect(try await server.jobDetail(id: record2.id)?.stages.map(\.stage) == ["queued"])
            record2.status = .completed
            try await cli.updateJob(record2)
            #expect(try await server.jobDetail(id: record2.id)?.job.status == .completed)
            try await server.appendStage(jobId: record2.id, StageEvent(stage: "completed", level: .info, detail: "d"))
            #expect(try await server.jobDetail(id: record2.id)?.stages.map(\.stage) == ["queued", "completed"])
        }
    }

    @Test("the WAL-index stamp the cache keys on stays while nothing commits and moves with every commit")
    func readCacheStamp() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("knify-stamp-\(UUID().uuidString)/s.sqlite").path
        let store = try SQLiteStore(path: path)
        let other = try SQLiteStore(path: path)
        let cache = ReadCache(databasePath: path)
        _ = try await store.jobDetail(id: "job_none")
        let first = try #require(cache.stamp())
        #expect(cache.stamp() == first)
        try await other.insertJob(JobRecord(id: "job_stamp", tenant: "ws_a", jobType: "cursor_task", specJSON: "{}"))
        let second = try #require(cache.stamp())
        #expect(second != first)
        cache.store("value", "k", at: second)
        #expect(cache.value("k", at: second) == "value")
        try await store.appendStage(jobId: "job_stamp", StageEvent(stage: "queued", level: .info, detail: "d"))
        #expect(cache.stamp() != second)
        #expect((cache.value("k", at: try #require(cache.stamp())) as String?) == nil)
    }

    @Test("the SQLite file never holds a key itself")
    func keyNotInFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("knify-keys-\(UUID().uuidString)/k.sqlite").path
        let store = try SQLiteStore(path: path)
        let (key, record) = APIKeys.make(name: "ci", scopes: ["jobs:read"], tenant: "ws_a", tier: "pro")
        try await store.insertAPIKey(record)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path)) + ((try? Data(contentsOf: URL(fileURLWithPath: path + "-wal"))) ?? Data())
        #expect(bytes.range(of: Data(key.utf8)) == nil, "the key itself must never be stored")
        #expect(bytes.range(of: Data(record.hash.utf8)) != nil, "the hash is what is stored")
    }

    @Test("workspaces by name and tenant; names are unique", arguments: Backend.allCases)
    func workspaces(backend: Backend) async throws {
        try await backend.withStore { store in
            try await store.insertWorkspace(WorkspaceRecord(id: "wsp_1", name: "my-project", tenant: "ws_a", sizeBytes: 10))
            try await store.insertWorkspace(WorkspaceRecord(id: "wsp_2", name: "other", tenant: "ws_b", sizeBytes: 20))
            #expect(try await store.workspace(name: "my-project")?.tenant == "ws_a")
            #expect(try await store.workspaces(tenant: "ws_b").map(\.name) == ["other"])
            #expect(try await store.workspaces(tenant: nil).count == 2)
            let duplicate = await #expect(throws: StorageError.self) {
                try await store.insertWorkspace(WorkspaceRecord(id: "wsp_3", name: "my-project", tenant: "ws_b", sizeBytes: 1))
            }
            #expect(duplicate?.code == .conflict)
        }
    }
}

@Suite("Random identifiers")
struct RandomIDTests {
    @Test("base62: the asked length, only the alphabet, every symbol in use, never the same twice")
    func base62() {
        let ids = (0..<1_000).map { _ in RandomID.base62(16) }
        #expect(ids.allSatisfy { $0.count == 16 && $0.allSatisfy(RandomID.alphabet.contains) })
        #expect(Set(ids).count == ids.count)
        #expect(Set(ids.joined()) == Set(RandomID.alphabet), "16,000 characters leave no symbol out unless the mapping does")
        #expect(RandomID.base62(0).isEmpty && RandomID.base62(37).count == 37)
    }
}
