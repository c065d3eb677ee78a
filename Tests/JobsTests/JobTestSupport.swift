import DockerEngine
import Foundation
import Jobs
import KnifyTestSupport
import SandboxPolicy
import Sandboxes
import Storage

/// An executor on a node of its own, over a file-backed store (so tests can read the database file).
struct JobHarness {
    let executor: JobExecutor
    let store: SQLiteStore
    let sandboxes: SandboxManager
    let node: String
    let databasePath: String
    let workspacesRoot: URL

    static let policies: [String: Policy] = {
        (try? ["default", "strict"].reduce(into: [String: Policy]()) {
            $0[$1] = try Policy.load(named: $1, from: TestFixtures.policiesDirectory)
        }) ?? [:]
    }()

    init(concurrency: Int = 4, timeout: Duration = .seconds(300), keys: [String: String] = [:],
         client: DockerClient = TestEngine.client, store existing: (SQLiteStore, String)? = nil, node existingNode: String? = nil) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("knify-jobs-\(UUID().uuidString)")
        workspacesRoot = directory.appendingPathComponent("workspaces")
        try FileManager.default.createDirectory(at: workspacesRoot, withIntermediateDirectories: true)
        databasePath = existing?.1 ?? directory.appendingPathComponent("knify.sqlite").path
        store = try existing?.0 ?? SQLiteStore(path: databasePath)
        node = existingNode ?? TestEngine.uniqueName("jobs")
        sandboxes = SandboxManager(client: client, store: store,
                                   configuration: .init(image: TestEngine.image, node: node, policies: Self.policies))
        executor = JobExecutor(store: store, sandboxes: sandboxes, configuration: .init(
            concurrency: concurrency, jobTimeout: timeout, workspaces: WorkspaceRoot(directory: workspacesRoot.path),
            agentKeys: keys, artifactDirectory: directory.appendingPathComponent("artifacts").path, node: node))
    }

    /// Waits for the job's final state by following its events (no polling), returning the events and the job.
    func finish(_ id: String) async throws -> (job: JobRecord, events: [[String: Any]]) {
        var events: [[String: Any]] = []
        for await item in try await executor.follow(id, after: 0) {
            if case .event(let row) = item,
               let object = try JSONSerialization.jsonObject(with: Data(row.json.utf8)) as? [String: Any] {
                events.append(object)
            }
        }
        return (try await executor.visibleJob(id, tenant: nil), events)
    }

    /// Runs `body`, then removes everything the harness's node left in the engine, whatever happened.
    func run<T>(_ body: (JobHarness) async throws -> T) async throws -> T {
        do {
            let result = try await body(self)
            await sweep()
            return result
        } catch {
            await sweep()
            throw error
        }
    }

    /// Removes every container and volume of this harness's node.
    func sweep() async { await TestEngine.sweep(node: node) }
}
