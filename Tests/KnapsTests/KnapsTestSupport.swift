import Agents
import DockerEngine
import Foundation
import Jobs
import Knaps
import KnifyTestSupport
import SandboxPolicy
import Sandboxes
import Storage
import Synchronization

/// A clock the tests move by hand, so expiry and schedules are checked at exact instants without waiting.
final class TestClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date) { current = Mutex(start) }

    var now: Date { current.withLock { $0 } }
    func set(_ date: Date) { current.withLock { $0 = date } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

func utc(_ text: String) -> Date {
    guard let date = ISO8601.date(text) else { fatalError("bad test date \(text)") }
    return date
}

/// Knaps over a file-backed store and an executor. Without `engine`, the executor's engine socket does not exist, so
/// a submitted run's job is recorded and then fails at once (`SANDBOX_ERROR`): scheduler tests count jobs without
/// starting sandboxes.
struct KnapsHarness {
    let store: SQLiteStore
    let databasePath: String
    let jobs: JobExecutor
    let runner: KnapRunner
    let service: KnapService
    let clock: TestClock
    let node: String

    static let alice = KnapCaller(clientId: "knc_alice", userId: "alice", org: "acme", orgAdmin: false)
    static let bob = KnapCaller(clientId: "knc_bob", userId: "bob", org: "acme", orgAdmin: true)
    static let carol = KnapCaller(clientId: "knc_carol", userId: "carol", org: "globex", orgAdmin: false)
    static let dave = KnapCaller(clientId: "knc_dave", userId: "dave", org: nil, orgAdmin: false)

    init(engine: Bool = false, now: Date = utc("2026-01-05T08:00:00Z"), sharing other: KnapsHarness? = nil) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("knify-knaps-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        databasePath = other?.databasePath ?? directory.appendingPathComponent("knify.sqlite").path
        // A second store on the same file is a second server (or the same one after a restart).
        store = try SQLiteStore(path: databasePath)
        node = TestEngine.uniqueName("knaps")
        let client = engine ? TestEngine.client : DockerClient(socketPath: directory.appendingPathComponent("no-engine.sock").path)
        let policies = try ["default"].reduce(into: [String: Policy]()) {
            $0[$1] = try Policy.load(named: $1, from: TestFixtures.policiesDirectory)
        }
        let sandboxes = SandboxManager(client: client, store: store, configuration: .init(image: TestEngine.image, node: node, policies: policies))
        jobs = JobExecutor(store: store, sandboxes: sandboxes, configuration: .init(
            concurrency: 2, jobTimeout: .seconds(300), workspaces: WorkspaceRoot(directory: directory.appendingPathComponent("ws").path),
            artifactDirectory: directory.appendingPathComponent("artifacts").path, node: node))
        runner = KnapRunner(store: store, jobs: jobs)
        clock = other?.clock ?? TestClock(now)
        let clock = clock
        service = KnapService(store: store, jobs: jobs, now: { clock.now })
    }

    func scheduler() -> KnapScheduler { KnapScheduler(store: store, runner: runner) }

    /// A knap with the fields every test repeats.
    func create(_ caller: KnapCaller = alice, name: String = "Digest", visibility: String = "private",
                schedule: String? = nil, type: String? = nil, timezone: String? = nil) async throws -> Knap {
        var metadata: [String: JSONValue] = ["action_description": "Summarise yesterday's commits"]
        if let schedule { metadata["schedule_description"] = .string(schedule) }
        return try await service.create(KnapInput(name: name, scheduleType: type, visibility: visibility, toolMetadata: metadata,
                                                  timezone: timezone), by: caller)
    }

    /// Waits until every job of these runs has reached a final state (following each job's events; no polling).
    func settle(_ runs: [KnapRunRecord]) async throws {
        for run in runs {
            for await _ in try await jobs.follow(run.jobId, after: 0) {}
        }
    }

    func sweep() async { await TestEngine.sweep(node: node) }
}
