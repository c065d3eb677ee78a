import DockerEngine
import Foundation
import KnifyTestSupport
import SandboxPolicy
import Sandboxes
import Storage
import Testing

@Suite("Reaping, warm pool, crash recovery and engine outages against the real engine")
struct SandboxMaintenanceTests {
    let client = TestEngine.client
    static let policies: [String: Policy] = {
        (try? ["default", "strict"].reduce(into: [String: Policy]()) {
            $0[$1] = try Policy.load(named: $1, from: TestFixtures.policiesDirectory)
        }) ?? [:]
    }()

    func manager(store: SQLiteStore? = nil, node: String = TestEngine.uniqueName("node"),
                 warmPool: [String: Int] = [:], client: DockerClient = TestEngine.client) throws -> SandboxManager {
        SandboxManager(client: client, store: try store ?? SQLiteStore(),
                       configuration: .init(image: TestEngine.image, node: node, policies: Self.policies, warmPool: warmPool))
    }

    /// Removes whatever a test left on its node.
    func sweep(_ node: String) async {
        for container in (try? await client.listContainers(all: true, labels: ["\(SandboxManager.Label.node)=\(node)"])) ?? [] {
            try? await client.removeContainer(container.id, force: true, volumes: true)
        }
        for volume in (try? await client.listVolumes(labels: ["\(SandboxManager.Label.node)=\(node)"])) ?? [] {
            try? await client.removeVolume(name: volume.name, force: true)
        }
    }

    @Test("idle TTL reaps paused sandboxes; keep-alive holds them; max lifetime wins over keep-alive")
    func reaping() async throws {
        let manager = try manager()
        let idleTTL = try #require(Self.policies["default"]).idleTTL
        let lifetime = try #require(Self.policies["default"]).maxLifetime
        let paused = try await manager.acquire(.init()).record
        try await manager.pause(paused.id)
        let active = try await manager.acquire(.init()).record
        let held = try await manager.acquire(.init()).record
        try await manager.pause(held.id)
        let now = Date()
        try await manager.keepAlive(held.id, until: now.addingTimeInterval(Double(idleTTL) * 4))

        #expect(try await manager.reap(now: now).isEmpty)
        let afterIdle = try await manager.reap(now: now.addingTimeInterval(Double(idleTTL) + 5))
        #expect(afterIdle.map(\.id) == [paused.id])
        #expect(afterIdle.first?.endReason?.contains("idle") == true)
        let gone = await #expect(throws: DockerError.self) { try await client.inspectContainer(paused.containerName) }
        #expect(gone?.code == .notFound)

        let afterLifetime = try await manager.reap(now: now.addingTimeInterval(Double(lifetime) + 5))
        #expect(Set(afterLifetime.map(\.id)) == [active.id, held.id])
        #expect(try await manager.liveRecords().isEmpty)
    }

    @Test("the warm pool fills, hands out started sandboxes with the workspace copied in, refills, and drains")
    func warmPool() async throws {
        let node = TestEngine.uniqueName("pool")
        let manager = try manager(node: node, warmPool: ["default": 2])
        await manager.fillPool()
        #expect(await manager.poolStatus()["default"] == .init(ready: 2, target: 2, hits: 0, misses: 0))

        var tar = TarWriter()
        tar.addFile("input.txt", contents: Array("from the pool\n".utf8), uid: 1000, gid: 1000)
        let acquired = try await manager.acquire(.init(jobId: "job_pool", workspace: tar.finish()))
        guard case .warm(let record) = acquired else { Issue.record("expected a warm sandbox, got \(acquired)"); return }
        #expect(record.pooled == false && record.jobId == "job_pool")
        let read = try await manager.run(record.id, ExecSpec(cmd: ["cat", "/workspace/input.txt"]), timeout: .seconds(60))
        #expect(read.result.stdoutText == "from the pool\n")

        await manager.fillPool()
        let status = try #require(await manager.poolStatus()["default"])
        #expect(status.ready == 2 && status.hits == 1)

        _ = try await manager.acquire(.init())
        _ = try await manager.acquire(.init())
        _ = try await manager.acquire(.init())  // only refills in the background: this one may be a miss or a hit
        await manager.drainPool()
        #expect(await manager.poolStatus()["default"]?.ready == 0)
        await sweep(node)
    }

    @Test("crash recovery: a new manager adopts known sandboxes, removes unknown ones after the grace, marks vanished ones lost")
    func crashRecovery() async throws {
        let node = TestEngine.uniqueName("crash")
        let store = try SQLiteStore()
        // The first manager's process "dies" at the end of this scope: no cleanup runs.
        let (kept, vanishing) = try await { () async throws -> (SandboxRecord, SandboxRecord) in
            let first = try manager(store: store, node: node)
            let kept = try await first.acquire(.init(sessionId: "s1")).record
            try await first.pause(kept.id)
            return (kept, try await first.acquire(.init()).record)
        }()
        try await client.removeContainer(vanishing.containerName, force: true)

        // A container with Knify's labels that no record knows (a crash between create and record, say).
        let orphanId = "sbx_orphan\(UUID().uuidString.prefix(6))"
        var spec = TestEngine.idleSpec(labels: [SandboxManager.Label.sandbox: orphanId, SandboxManager.Label.node: node])
        spec.labels?[TestEngine.testLabel] = nil
        let orphan = try await client.createContainer(spec, name: "knify-\(orphanId)")

        let second = try manager(store: store, node: node)
        let young = try await second.reconcile(grace: 3600)
        #expect(young.removedOrphans.isEmpty, "a young container must survive the grace period")
        #expect(young.adopted == [kept.id])
        #expect(young.markedLost == [vanishing.id], "a record whose container vanished is lost at once")
        let report = try await second.reconcile(now: Date().addingTimeInterval(7200), grace: 3600)
        #expect(report.adopted == [kept.id])
        #expect(report.removedOrphans == [orphanId])
        #expect(report.markedLost.isEmpty)
        #expect(try await store.sandbox(id: kept.id)?.state == .paused)
        #expect(try await store.sandbox(id: vanishing.id)?.state == .lost)
        let removed = await #expect(throws: DockerError.self) { try await client.inspectContainer(orphan.id) }
        #expect(removed?.code == .notFound)

        // The adopted sandbox still works for its session.
        let again = try await second.acquire(.init(sessionId: "s1"))
        #expect(again == .reused(again.record) && again.record.id == kept.id)
        try await second.destroy(kept.id)
        await sweep(node)
    }

    @Test("engine down: operations fail fast as engineUnavailable; the manager works again once the engine is back")
    func engineOutage() async throws {
        // The manager's socket is a symlink: missing = engine down, pointing at the real socket = engine back.
        let link = "/tmp/knify-outage-\(UUID().uuidString.prefix(8)).sock"
        defer { unlink(link) }
        let node = TestEngine.uniqueName("outage")
        let manager = try manager(node: node, warmPool: ["default": 1], client: DockerClient(socketPath: link))

        let down = await #expect(throws: SandboxError.self) { try await manager.acquire(.init()) }
        #expect(down?.code == .engineUnavailable)
        await manager.fillPool()
        #expect(await manager.poolStatus()["default"]?.ready == 0)
        #expect(try await manager.liveRecords().isEmpty, "a failed create leaves no live record")

        #expect(symlink(TestEngine.client.socketPath, link) == 0)
        let record = try await manager.acquire(.init()).record
        #expect(record.state == .active)
        await manager.fillPool()
        #expect(await manager.poolStatus()["default"]?.ready == 1)
        await manager.drainPool()
        try await manager.destroy(record.id)
        await sweep(node)
    }
}
