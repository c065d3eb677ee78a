import Foundation
import Storage
import Testing

@Suite("Store: cluster nodes, the job queue, requests, changes, locks (SQLite and PostgreSQL)")
struct ClusterStoreTests {
    static let now = Date(timeIntervalSince1970: 1_900_000_000)

    static func node(_ id: String, role: String = "worker", leaseUntil: Date = now.addingTimeInterval(15)) -> NodeRecord {
        NodeRecord(id: id, role: role, address: "127.0.0.1:1", startedAt: now, heartbeatAt: now, leaseUntil: leaseUntil)
    }

    static func job(_ id: String, node: String?, created: Date, sandbox: String? = nil, status: JobRecord.Status = .pending) -> JobRecord {
        var job = JobRecord(id: id, tenant: "ws_a", jobType: "claude_task", status: status, specJSON: "{}", createdAt: created)
        job.node = node
        job.sandboxId = sandbox
        return job
    }

    @Test("heartbeats, leases and load: the least loaded live worker comes first", arguments: Backend.allCases)
    func loads(backend: Backend) async throws {
        try await backend.withStore { store in
            try await store.heartbeat(Self.node("n1"))
            try await store.heartbeat(Self.node("n2"))
            try await store.heartbeat(Self.node("n3", leaseUntil: Self.now.addingTimeInterval(-1)))
            try await store.heartbeat(Self.node("api1", role: "api"))
            try await store.saveSandbox(SandboxRecord(id: "sbx_1", node: "n1", policy: "default", image: "i", state: .paused))
            try await store.saveSandbox(SandboxRecord(id: "sbx_2", node: "n2", policy: "default", image: "i", state: .cleaned))
            #expect(try await store.workerLoads(at: Self.now) == [NodeLoad(node: "n2", load: 0), NodeLoad(node: "n1", load: 1)])
            // A job placed on n2 that has no sandbox yet counts too; ties go to the lower id.
            try await store.insertJob(Self.job("job_1", node: "n2", created: Self.now))
            #expect(try await store.workerLoads(at: Self.now).map(\.node) == ["n1", "n2"])
            try await store.leave(node: "n1", at: Self.now)
            #expect(try await store.workerLoads(at: Self.now).map(\.node) == ["n2"])
            #expect(try await store.nodes().map(\.id) == ["api1", "n1", "n2", "n3"])
            #expect(try await store.nodes().first { $0.id == "n1" }?.state == .left)
            try await store.heartbeat(Self.node("n1"))
            #expect(try await store.nodes().first { $0.id == "n1" }?.state == .up)
        }
    }

    @Test("claims: oldest first, only a node's own or unplaced jobs, never one job twice", arguments: Backend.allCases)
    func claims(backend: Backend) async throws {
        try await backend.withStores(2) { stores in
            let store = stores[0]
            try await store.insertJob(Self.job("job_a", node: "n1", created: Self.now))
            try await store.insertJob(Self.job("job_b", node: "n2", created: Self.now.addingTimeInterval(1)))
            try await store.insertJob(Self.job("job_c", node: nil, created: Self.now.addingTimeInterval(2)))
            #expect(try await store.claimJob(node: "n2")?.id == "job_b")
            #expect(try await store.claimJob(node: "n2")?.node == "n2", "an unplaced job is placed on its claimer")
            #expect(try await store.claimJob(node: "n2") == nil)
            #expect(try await store.claimJob(node: "n1")?.id == "job_a")
            #expect(try await store.job(id: "job_c")?.node == "n2")

            // Two stores (two processes) claiming 20 unplaced jobs at once: each job exactly once.
            for index in 0..<20 {
                try await store.insertJob(Self.job(String(format: "job_q%02d", index), node: nil, created: Self.now.addingTimeInterval(10 + Double(index))))
            }
            let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
                for (index, claimer) in stores.enumerated() {
                    group.addTask {
                        var ids: [String] = []
                        while let job = try await claimer.claimJob(node: "w\(index)") { ids.append(job.id) }
                        return ids
                    }
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(claimed.count == 20)
            #expect(Set(claimed).count == 20)

            // After a restart its claims are released and taken again; a claimed job cannot be cancelled in the store.
            try await store.releaseClaims(node: "n1")
            #expect(try await stores[1].claimJob(node: "n1")?.id == "job_a")
            #expect(try await store.cancelUnclaimed(jobId: "job_a", at: Self.now, reason: "x") == nil)
            try await store.insertJob(Self.job("job_d", node: nil, created: Self.now.addingTimeInterval(100)))
            let cancelled = try await store.cancelUnclaimed(jobId: "job_d", at: Self.now, reason: "cancelled before it started")
            #expect(cancelled?.status == .cancelled)
            #expect(try await stores[1].job(id: "job_d")?.error == "cancelled before it started")
            #expect(try await store.claimJob(node: "n1") == nil)
        }
    }

    @Test("a node whose lease ran out is lost once: started jobs fail, unstarted ones move, sandboxes are lost", arguments: Backend.allCases)
    func expiry(backend: Backend) async throws {
        try await backend.withStores(2) { stores in
            let store = stores[0]
            try await store.heartbeat(Self.node("n1", leaseUntil: Self.now))
            try await store.heartbeat(Self.node("n2", leaseUntil: Self.now.addingTimeInterval(60)))
            try await store.saveSandbox(SandboxRecord(id: "sbx_1", node: "n1", policy: "default", image: "i", state: .active))
            try await store.saveSandbox(SandboxRecord(id: "sbx_2", node: "n1", policy: "default", image: "i", state: .paused))
            try await store.insertJob(Self.job("job_run", node: "n1", created: Self.now, sandbox: "sbx_1", status: .running))
            try await store.insertJob(Self.job("job_turn", node: "n1", created: Self.now.addingTimeInterval(1), sandbox: "sbx_2"))
            try await store.insertJob(Self.job("job_wait", node: "n1", created: Self.now.addingTimeInterval(2)))
            try await store.insertJob(Self.job("job_done", node: "n1", created: Self.now, status: .completed))
            _ = try await store.claimJob(node: "n1")

            #expect(try await store.expireNodes(at: Self.now, reason: "node lost").isEmpty, "the lease still holds at its last instant")
            let later = Self.now.addingTimeInterval(1)
            // Two coordinators at once (a handover): the node is expired exactly once.
            async let first = store.expireNodes(at: later, reason: "node lost")
            async let second = stores[1].expireNodes(at: later, reason: "node lost")
            let losses = try await first + second
            #expect(losses == [NodeLoss(node: "n1", failedJobs: ["job_run", "job_turn"], requeuedJobs: ["job_wait"],
                                        lostSandboxes: ["sbx_1", "sbx_2"])])
            let failed = try #require(try await store.job(id: "job_run"))
            #expect(failed.status == .failed && failed.error == "node lost" && failed.errorCode == "SANDBOX_ERROR")
            #expect(failed.completedAt == later)
            #expect(try await store.stages(jobId: "job_run").last?.detail == "Job failed: node lost")
            #expect(try await store.job(id: "job_turn")?.status == .failed)
            #expect(try await store.job(id: "job_done")?.status == .completed)
            let moved = try #require(try await store.job(id: "job_wait"))
            #expect(moved.status == .pending && moved.node == nil)
            #expect(try await store.stages(jobId: "job_wait").last?.stage == "queued")
            #expect(try await store.sandbox(id: "sbx_1")?.state == .lost)
            #expect(try await store.sandbox(id: "sbx_2")?.endReason == "node lost")
            #expect(try await store.liveSandboxes(node: "n1").isEmpty)
            #expect(try await store.nodes().first { $0.id == "n1" }?.state == .lost)
            #expect(try await store.claimJob(node: "n2")?.id == "job_wait")
            #expect(try await store.expireNodes(at: later.addingTimeInterval(10), reason: "node lost").isEmpty)
        }
    }

    @Test("requests to a node are taken once, oldest first", arguments: Backend.allCases)
    func requests(backend: Backend) async throws {
        try await backend.withStore { store in
            try await store.insertNodeRequest(NodeRequest(id: "req_2", node: "n1", kind: .cleanup, jobId: "job_b", createdAt: Self.now.addingTimeInterval(1)))
            try await store.insertNodeRequest(NodeRequest(id: "req_1", node: "n1", kind: .cancel, jobId: "job_a", createdAt: Self.now))
            try await store.insertNodeRequest(NodeRequest(id: "req_3", node: "n2", kind: .cancel, jobId: "job_c", createdAt: Self.now))
            let taken = try await store.takeNodeRequests(node: "n1")
            #expect(taken.map(\.id) == ["req_1", "req_2"])
            #expect(taken.map(\.kind) == [.cancel, .cleanup])
            #expect(try await store.takeNodeRequests(node: "n1").isEmpty)
            #expect(try await store.takeNodeRequests(node: "n2").map(\.jobId) == ["job_c"])
        }
    }

    @Test("shared counters count per key and window; a shared secret is one for every opening", arguments: Backend.allCases)
    func countersAndSecrets(backend: Backend) async throws {
        try await backend.withStores(2) { stores in
            #expect(try await stores[0].hit("k1", window: 100, expireBefore: 0) == 1)
            #expect(try await stores[1].hit("k1", window: 100, expireBefore: 0) == 2)
            #expect(try await stores[0].hit("k2", window: 100, expireBefore: 0) == 1)
            #expect(try await stores[1].hit("k1", window: 200, expireBefore: 100) == 1)
            let secret = try await stores[0].sharedSecret("stream-tokens")
            #expect(secret.count == 32)
            #expect(try await stores[1].sharedSecret("stream-tokens") == secret)
            #expect(try await stores[1].sharedSecret("other") != secret)
        }
    }

    @Test("a change announced by one opening reaches the readers of the other")
    func changesAcrossProcesses() async throws {
        try await Backend.postgres.withStores(2) { stores in
            let changes = await stores[1].changes()
            try await stores[0].notify(.job("job_x"))
            try await stores[0].notify(.work(node: nil))
            try await stores[0].notify(.work(node: "n1"))
            var received: [StoreChange] = []
            for await change in changes {
                received.append(change)
                if received.count == 3 { break }
            }
            #expect(received == [.job("job_x"), .work(node: nil), .work(node: "n1")])
        }
    }

    @Test("SQLite announces within its process")
    func changesInProcess() async throws {
        try await Backend.sqlite.withStore { store in
            let changes = await store.changes()
            try await store.notify(.job("job_y"))
            var iterator = changes.makeAsyncIterator()
            #expect(await iterator.next() == .job("job_y"))
        }
    }

    @Test("the coordinator lock is held by one session, and taken over when that session ends")
    func lockFailover() async throws {
        try await Backend.postgres.withStores(2) { stores in
            let taken = try await stores[0].holdLock("knify.coordinator")
            let kept = try await stores[0].holdLock("knify.coordinator")
            let refused = try await stores[1].holdLock("knify.coordinator")
            let other = try await stores[1].holdLock("another")
            #expect(taken && kept, "its holder keeps it")
            #expect(!refused)
            #expect(other)
            await stores[0].close()
            let takenOver = try await stores[1].holdLock("knify.coordinator")
            #expect(takenOver)
        }
    }
}
