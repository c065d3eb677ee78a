import DockerEngine
import Foundation
import Jobs
import Knaps
import Logging
import SandboxPolicy
import Sandboxes
import ServiceLifecycle
import Storage

/// Everything a running Knify holds, built once from the configuration: the store, the sandbox manager and the job
/// executor, wired in the one direction data flows.
public struct KnifyServices: Sendable {
    public let store: SQLiteStore
    public let sandboxes: SandboxManager
    public let jobs: JobExecutor
    public let knaps: KnapService
    public let knapRunner: KnapRunner
    public let knapAuth: KnapAuth
    public let scheduler: KnapScheduler
    let streamTokens = StreamTokens()
    let rateLimiter = RateLimiter()
    let knapRateLimiter = RateLimiter(windowSeconds: 60)
    /// Waits for a graceful shutdown, then gives running jobs their grace and stops sandbox maintenance.
    public let lifecycle: JobsLifecycle

    /// Opens the store under the data directory, loads the policies, reconciles the engine with the store and
    /// recovers jobs a previous process left unfinished, then starts periodic sandbox maintenance.
    public static func start(_ configuration: ServerConfiguration, logger: Logger) async throws -> KnifyServices {
        let store = try SQLiteStore(path: configuration.databasePath)
        let policies = try Policy.loadAll(from: configuration.policiesDirectory)
        guard policies[configuration.defaultPolicy] != nil else {
            throw PolicyError(.unknownPolicy, file: configuration.policiesDirectory, value: configuration.defaultPolicy,
                              "the default policy is not in the policies folder")
        }
        let client = DockerClient(socketPath: configuration.dockerSocket, logger: logger)
        let sandboxes = SandboxManager(client: client, store: store, configuration: .init(
            image: configuration.image, node: configuration.node, policies: policies,
            defaultPolicy: configuration.defaultPolicy,
            warmPool: configuration.warmPool > 0 ? [configuration.defaultPolicy: configuration.warmPool] : [:]), logger: logger)
        let workspaces = configuration.resolvedWorkspacesDirectory
        try FileManager.default.createDirectory(atPath: workspaces, withIntermediateDirectories: true)
        let jobs = JobExecutor(store: store, sandboxes: sandboxes, configuration: .init(
            concurrency: configuration.concurrency, workspaces: WorkspaceRoot(directory: workspaces),
            agentKeys: configuration.agentKeys,
            artifactDirectory: (configuration.dataDirectory as NSString).appendingPathComponent("artifacts"),
            node: configuration.node), logger: logger)
        try await jobs.recover()
        await sandboxes.startMaintenance()
        let runner = KnapRunner(store: store, jobs: jobs, logger: logger)
        let scheduler = KnapScheduler(store: store, runner: runner, logger: logger)
        if let interval = configuration.schedulerInterval { await scheduler.start(interval: interval) }
        return KnifyServices(store: store, sandboxes: sandboxes, jobs: jobs, knaps: KnapService(store: store, jobs: jobs),
                             knapRunner: runner, knapAuth: KnapAuth(store: store), scheduler: scheduler,
                             lifecycle: JobsLifecycle(jobs: jobs, sandboxes: sandboxes, scheduler: scheduler, grace: configuration.shutdownGrace))
    }
}

/// The jobs' side of a graceful shutdown: the scheduler stops firing, nothing new starts, running jobs get the grace
/// period, then are cancelled, so none is left `running`; queued jobs stay queued in the store for the next start.
public struct JobsLifecycle: Service {
    let jobs: JobExecutor
    let sandboxes: SandboxManager
    let scheduler: KnapScheduler
    let grace: Duration

    public func run() async throws {
        try? await gracefulShutdown()
        await scheduler.stop()
        await jobs.shutdown(grace: grace)
        await sandboxes.stopMaintenance()
    }
}
