import DockerEngine
import Foundation
import Jobs
import Knaps
import Logging
import SandboxPolicy
import Sandboxes
import ServiceLifecycle
import Storage
import Crypto

/// Everything a running Knify holds, built once from the configuration: the store, the sandbox manager and the job
/// executor, wired in the one direction data flows.
public struct KnifyServices: Sendable {
    public let store: any Store
    public let sandboxes: SandboxManager
    public let jobs: JobExecutor
    public let knaps: KnapService
    public let knapRunner: KnapRunner
    public let knapAuth: KnapAuth
    public let scheduler: KnapScheduler
    /// This process as a cluster node; nil on a single machine (an SQLite store).
    public let member: ClusterMember?
    let streamTokens: StreamTokens
    let rateLimiter: RateLimiter
    let knapRateLimiter: RateLimiter
    /// Waits for a graceful shutdown, then gives running jobs their grace and stops sandbox maintenance.
    public let lifecycle: JobsLifecycle

    /// Opens the store, loads the policies; on a node that runs jobs, reconciles the engine with the store and
    /// recovers jobs a previous process left unfinished, then starts periodic sandbox maintenance. With a shared
    /// store it joins the cluster.
    public static func start(_ configuration: ServerConfiguration, logger: Logger) async throws -> KnifyServices {
        let location = configuration.storeLocation
        let clustered = location.isShared
        guard clustered || configuration.role == .all else {
            throw StorageError(.unavailable, "--role \(configuration.role.rawValue) needs a shared store: --store postgres://user@host:port/database")
        }
        let store = try await location.open()
        let policies = try Policy.loadAll(from: configuration.policiesDirectory)
        guard policies[configuration.defaultPolicy] != nil else {
            throw PolicyError(.unknownPolicy, file: configuration.policiesDirectory, value: configuration.defaultPolicy,
                              "the default policy is not in the policies folder")
        }
        let runsJobs = configuration.role.runsJobs
        let client = DockerClient(socketPath: configuration.dockerSocket, logger: logger)
        let sandboxes = SandboxManager(client: client, store: store, configuration: .init(
            image: configuration.image, node: configuration.node, policies: policies,
            defaultPolicy: configuration.defaultPolicy,
            warmPool: runsJobs && configuration.warmPool > 0 ? [configuration.defaultPolicy: configuration.warmPool] : [:]), logger: logger)
        let workspaces = configuration.resolvedWorkspacesDirectory
        try FileManager.default.createDirectory(atPath: workspaces, withIntermediateDirectories: true)
        var jobsConfiguration = JobExecutor.Configuration(
            concurrency: configuration.concurrency, workspaces: WorkspaceRoot(directory: workspaces),
            agentKeys: configuration.agentKeys,
            artifactDirectory: (configuration.dataDirectory as NSString).appendingPathComponent("artifacts"),
            node: configuration.node)
        jobsConfiguration.clustered = clustered
        jobsConfiguration.runsJobs = runsJobs
        let jobs = JobExecutor(store: store, sandboxes: sandboxes, configuration: jobsConfiguration, logger: logger)
        if runsJobs {
            try await jobs.recover()
            await sandboxes.startMaintenance()
        }
        let member = clustered ? ClusterMember(store: store, jobs: jobs, configuration: .init(
            node: configuration.node, role: configuration.role.rawValue, address: "\(configuration.host):\(configuration.port)",
            lease: configuration.lease), logger: logger) : nil
        try await member?.start()
        let runner = KnapRunner(store: store, jobs: jobs, logger: logger)
        let scheduler = KnapScheduler(store: store, runner: runner, logger: logger)
        if let interval = configuration.schedulerInterval {
            await scheduler.start(interval: interval) { await member?.isCoordinator ?? true }
        }
        let streamKey = clustered ? SymmetricKey(data: try await store.sharedSecret("stream-tokens")) : SymmetricKey(size: .bits256)
        return KnifyServices(store: store, sandboxes: sandboxes, jobs: jobs, knaps: KnapService(store: store, jobs: jobs),
                             knapRunner: runner, knapAuth: KnapAuth(store: store), scheduler: scheduler, member: member,
                             streamTokens: StreamTokens(key: streamKey),
                             rateLimiter: RateLimiter(shared: clustered ? store : nil),
                             knapRateLimiter: RateLimiter(windowSeconds: 60, shared: clustered ? store : nil),
                             lifecycle: JobsLifecycle(jobs: jobs, sandboxes: sandboxes, scheduler: scheduler, member: member,
                                                      store: store, grace: configuration.shutdownGrace))
    }
}

/// The jobs' side of a graceful shutdown: the scheduler stops firing, nothing new starts, running jobs get the grace
/// period, then are cancelled, so none is left `running`; queued jobs stay queued in the store for the next start
/// (in a cluster, for the other workers: the node leaves).
public struct JobsLifecycle: Service {
    let jobs: JobExecutor
    let sandboxes: SandboxManager
    let scheduler: KnapScheduler
    let member: ClusterMember?
    let store: any Store
    let grace: Duration

    public func run() async throws {
        try? await gracefulShutdown()
        await scheduler.stop()
        await jobs.shutdown(grace: grace)
        await member?.stop()
        await sandboxes.stopMaintenance()
        await store.close()
    }
}
