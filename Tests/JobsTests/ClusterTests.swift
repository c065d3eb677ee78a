import DockerEngine
import Foundation
import Jobs
import KnifyTestSupport
import SandboxPolicy
import Sandboxes
import Storage
import Testing

/// Several nodes of one cluster in this process: one shared store (SQLite here; the PostgreSQL store passes the same
/// store suite, and `Tests/cluster` runs real processes on real engines against it), each node with its own sandbox
/// manager, executor and cluster membership, all on the test engine told apart by their node label.
struct ClusterHarness {
    struct Node {
        let id: String
        let sandboxes: SandboxManager
        let executor: JobExecutor
        let member: ClusterMember
    }

    let store: SQLiteStore
    let workers: [Node]
    /// An API-only node: places and follows jobs, runs none.
    let api: Node
    let workspaces: URL

    /// A lease long enough that a loaded CI machine never misses one by accident; the node-loss test asks for less.
    init(workers count: Int, lease: Duration = .seconds(20)) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("knify-cluster-\(UUID().uuidString)")
        workspaces = directory.appendingPathComponent("workspaces")
        try FileManager.default.createDirectory(at: workspaces, withIntermediateDirectories: true)
        store = try SQLiteStore(path: directory.appendingPathComponent("knify.sqlite").path)
        let prefix = TestEngine.uniqueName("cl")
        workers = (1...count).map { [store, workspaces] index in
            Self.node("\(prefix)-w\(index)", role: "worker", store: store, workspaces: workspaces, lease: lease)
        }
        api = Self.node("\(prefix)-api", role: "api", store: store, workspaces: workspaces, lease: lease)
    }

    static func node(_ id: String, role: String, store: SQLiteStore, workspaces: URL, lease: Duration) -> Node {
        let sandboxes = SandboxManager(client: TestEngine.client, store: store,
                                       configuration: .init(image: TestEngine.image, node: id, policies: JobHarness.policies))
        var configuration = JobExecutor.Configuration(concurrency: 2, workspaces: WorkspaceRoot(directory: workspaces.path), node: id)
        configuration.clustered = true
        configuration.runsJobs = role != "api"
        configuration.stopGrace = .seconds(5)
        let executor = JobExecutor(store: store, sandboxes: sandboxes, configuration: configuration)
        return Node(id: id, sandboxes: sandboxes, executor: executor,
                    member: ClusterMember(store: store, jobs: executor, configuration: .init(node: id, role: role, lease: lease)))
    }

    /// Starts every node, runs `body`, then stops them and removes what they left in the engine, whatever happened.
    func run(_ body: (ClusterHarness) async throws -> Void) async throws {
        for node in workers + [api] { try await node.member.start() }
        do {
            try await body(self)
        } catch {
            await teardown()
            throw error
        }
        await teardown()
    }

    private func teardown() async {
        for node in workers + [api] {
            await node.member.stop()
            await node.executor.shutdown(grace: .zero)
            await TestEngine.sweep(node: node.id)
        }
    }

    /// Follows a job from the API node (events relayed from whichever worker runs it) to its final state.
    func finish(_ id: String) async throws -> (job: JobRecord, messages: [String]) {
        var messages: [String] = []
        for await item in try await api.executor.follow(id, after: 0) {
            if case .event(let row) = item, row.type == "agent_message",
               let object = try JSONSerialization.jsonObject(with: Data(row.json.utf8)) as? [String: Any],
               let text = object["message"] as? String {
                messages.append(text)
            }
        }
        return (try await api.executor.visibleJob(id, tenant: nil), messages)
    }
}

@Suite("Cluster: placement, claims, pinning, node loss (in-process nodes on the test engine)", .serialized)
struct ClusterTests {
    @Test("jobs go to the least loaded worker, run there, and an API node follows them to the end", .timeLimit(.minutes(2)))
    func spreadAndFollow() async throws {
        try await ClusterHarness(workers: 3).run { cluster in
            var placed: [String] = []
            for index in 0..<3 {
                let job = try await cluster.api.executor.submit(JobSpec(jobType: "claude_task", prompt: "job \(index)\n@@sleep 0.5"), tenant: "ws_a")
                placed.append(try #require(job.node))
            }
            // Each submission saw the earlier ones as load: one job per worker.
            #expect(Set(placed) == Set(cluster.workers.map(\.id)))
            for node in cluster.workers {
                let job = try #require(try await cluster.store.jobs(JobQuery(limit: 10)).jobs.first { $0.node == node.id })
                let (finished, messages) = try await cluster.finish(job.id)
                #expect(finished.status == .completed)
                #expect(!messages.isEmpty)
                let sandboxId = try #require(finished.sandboxId)
                let sandbox = try #require(try await cluster.store.sandbox(id: sandboxId))
                #expect(sandbox.node == node.id)
                let containers = try await TestEngine.client.listContainers(all: true, labels: ["io.knify.node=\(node.id)"])
                #expect(containers.map { $0.labels["io.knify.sandbox"] } == [sandbox.id])
            }
        }
    }

    @Test("a continue submitted on the API node runs on the node that holds the sandbox", .timeLimit(.minutes(2)))
    func continuationIsPinned() async throws {
        try await ClusterHarness(workers: 2).run { cluster in
            let first = try await cluster.finish(try await cluster.api.executor.submit(
                JobSpec(jobType: "cursor_task", prompt: "Build the parser"), tenant: "ws_a").id).job
            // The sandbox's node now holds one live sandbox and the other none: placement alone would pick the other.
            let child = try await cluster.api.executor.continueJob(first.id, spec: JobSpec(jobType: "cursor_task", prompt: "Now add tests"),
                                                                   tenant: "ws_a")
            #expect(child.node == first.node)
            let (finished, messages) = try await cluster.finish(child.id)
            #expect(finished.status == .completed)
            #expect(finished.sandboxId == first.sandboxId)
            #expect(finished.node == first.node)
            #expect(messages.first?.hasPrefix("Resuming session") == true)
        }
    }

    @Test("a node that stops heartbeating is lost: its running job fails, its queued one moves, and back it reaps its sandbox",
          .timeLimit(.minutes(2)))
    func nodeLoss() async throws {
        try await ClusterHarness(workers: 2, lease: .seconds(5)).run { cluster in
            let doomed = cluster.workers[0]
            let survivor = cluster.workers[1]
            // Only the doomed node is up at first, so the job is placed on it; its first message says the agent runs.
            await survivor.member.stop()
            let long = try await cluster.api.executor.submit(JobSpec(jobType: "claude_task", prompt: "long\n@@sleep 300"), tenant: "ws_a")
            #expect(long.node == doomed.id)
            for await item in try await cluster.api.executor.follow(long.id, after: 0) {
                if case .event = item { break }
            }
            // The doomed node goes silent, as a killed process does; the survivor returns and coordinates.
            await doomed.member.stop(leave: false)
            try await survivor.member.start()
            let (failed, _) = try await cluster.finish(long.id)
            #expect(failed.status == .failed)
            #expect(failed.error == ClusterMember.lostReason)
            #expect(failed.errorCode == "SANDBOX_ERROR")
            let sandboxId = try #require(failed.sandboxId)
            let sandbox = try #require(try await cluster.store.sandbox(id: sandboxId))
            #expect(sandbox.state == .lost)
            #expect(try await cluster.store.nodes().first { $0.id == doomed.id }?.state == .lost)

            // New work goes to the survivor only.
            let next = try await cluster.api.executor.submit(JobSpec(jobType: "gemini_task", prompt: "after the loss"), tenant: "ws_a")
            #expect(next.node == survivor.id)
            #expect(try await cluster.finish(next.id).job.status == .completed)

            // The doomed node's agent was still running in its (still live) process: its ending must not overwrite the
            // cluster's. Then the node comes back and its reconciler removes the lost sandbox's container at once.
            await doomed.executor.shutdown(grace: .zero)
            #expect(try await cluster.store.job(id: long.id)?.error == ClusterMember.lostReason)
            let report = try await doomed.sandboxes.reconcile()
            #expect(report.removedOrphans.contains(sandbox.id))
            #expect(try await TestEngine.client.listContainers(all: true, labels: ["io.knify.node=\(doomed.id)"]).isEmpty)
        }
    }

    @Test("cancel and cleanup on the API node reach the worker that runs the job; an unclaimed job is cancelled in the store",
          .timeLimit(.minutes(2)))
    func cancelAndCleanupElsewhere() async throws {
        try await ClusterHarness(workers: 1).run { cluster in
            let worker = cluster.workers[0]
            let long = try await cluster.api.executor.submit(JobSpec(jobType: "cursor_task", prompt: "long\n@@sleep 300"), tenant: "ws_a")
            for await item in try await cluster.api.executor.follow(long.id, after: 0) {
                if case .event = item { break }
            }
            let cancelled = try await cluster.api.executor.cancel(long.id, tenant: "ws_a")
            #expect(cancelled.status == .cancelled)
            let (cleaned, alreadyCleaned) = try await cluster.api.executor.cleanup(long.id, tenant: "ws_a")
            #expect(!alreadyCleaned)
            let sandboxId = try #require(cleaned.sandboxId)
            #expect(try await cluster.store.sandbox(id: sandboxId)?.state == .cleaned)
            #expect(try await TestEngine.client.listContainers(all: true, labels: ["io.knify.node=\(worker.id)"]).isEmpty)

            // With no worker up, a job waits on no node, and a cancel ends it in the store.
            await worker.member.stop()
            let waiting = try await cluster.api.executor.submit(JobSpec(jobType: "cursor_task", prompt: "never"), tenant: "ws_a")
            #expect(waiting.node == nil)
            let ended = try await cluster.api.executor.cancel(waiting.id, tenant: "ws_a")
            #expect(ended.status == .cancelled)
            #expect(try await cluster.store.claimJob(node: worker.id) == nil)
        }
    }
}
