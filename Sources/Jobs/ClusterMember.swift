import Foundation
import Logging
import Metrics
import Storage

/// This process as a node of a cluster that shares one store: it renews its lease, claims the work placed on it,
/// serves other nodes' requests, relays their jobs' progress to its followers, and, while it holds the coordinator
/// lock, declares nodes whose lease ran out lost. PostgreSQL decides everything contested (claims, the lock); no
/// consensus of our own.
public actor ClusterMember {
    public struct Configuration: Sendable {
        public var node: String
        /// `api`, `worker` or `all`.
        public var role: String
        /// Where this node's HTTP API listens, shown by `knify-sandbox nodes ls`.
        public var address: String?
        /// A node that has not renewed its lease for this long is lost; it renews every third of it.
        public var lease: Duration

        public init(node: String, role: String, address: String? = nil, lease: Duration = .seconds(15)) {
            self.node = node
            self.role = role
            self.address = address
            self.lease = lease
        }
    }

    /// The cluster-wide lock whose holder expires lost nodes and runs the knap scheduler.
    public static let coordinatorLock = "knify.coordinator"
    /// The reason lost nodes' jobs fail with.
    public static let lostReason = "node lost"

    let store: any Store
    let jobs: JobExecutor
    public nonisolated let configuration: Configuration
    let logger: Logger
    let startedAt = Date()
    private var loops: [Task<Void, Never>] = []
    /// Whether this node held the coordinator lock at its last heartbeat.
    public private(set) var isCoordinator = false

    public init(store: any Store, jobs: JobExecutor, configuration: Configuration, logger: Logger = Logger(label: "knify.cluster")) {
        self.store = store
        self.jobs = jobs
        self.configuration = configuration
        self.logger = logger
    }

    /// Registers the node (throws if the store cannot be reached), then listens and heartbeats until `stop()`.
    public func start() async throws {
        guard loops.isEmpty else { return }
        try await store.heartbeat(record())
        let changes = await store.changes()
        loops.append(Task { await self.listen(changes) })
        loops.append(Task {
            while !Task.isCancelled {
                await self.beat()
                try? await Task.sleep(for: self.configuration.lease / 3)
            }
        })
    }

    /// Stops heartbeating and says goodbye, so the node is `left`, not lost, and its unstarted jobs move on.
    /// `leave: false` goes silent instead, as a killed node does (tests of node loss).
    public func stop(leave: Bool = true) async {
        for loop in loops { loop.cancel() }
        for loop in loops { await loop.value }
        loops.removeAll()
        isCoordinator = false
        guard leave else { return }
        do {
            try await store.leave(node: configuration.node, at: Date())
            try await store.notify(.work(node: nil))
        } catch {
            logger.error("could not leave the cluster cleanly", metadata: ["error": "\(error)"])
        }
    }

    /// One heartbeat: renew the lease, take or keep the coordinator lock, expire lost nodes if coordinator, then
    /// serve requests and claim work (in case a notification was missed).
    func beat() async {
        do {
            try await store.heartbeat(record())
        } catch {
            logger.error("cannot renew this node's lease", metadata: ["error": "\(error)"])
        }
        let wasCoordinator = isCoordinator
        isCoordinator = (try? await store.holdLock(Self.coordinatorLock)) ?? false
        if isCoordinator != wasCoordinator {
            logger.notice(isCoordinator ? "this node is the coordinator" : "this node is no longer the coordinator")
        }
        if isCoordinator { await expireLostNodes() }
        await jobs.serveRequests()
        await jobs.claimWork()
    }

    private func expireLostNodes() async {
        let losses: [NodeLoss]
        do {
            losses = try await store.expireNodes(at: Date(), reason: Self.lostReason)
        } catch {
            logger.error("cannot check the other nodes' leases", metadata: ["error": "\(error)"])
            return
        }
        for loss in losses {
            logger.warning("node lost", metadata: [
                "node": "\(loss.node)", "failed_jobs": "\(loss.failedJobs.count)",
                "requeued_jobs": "\(loss.requeuedJobs.count)", "lost_sandboxes": "\(loss.lostSandboxes.count)",
            ])
            Counter(label: "knify_nodes_lost_total").increment()
            for id in loss.failedJobs { try? await store.notify(.job(id)) }
            if !loss.requeuedJobs.isEmpty { try? await store.notify(.work(node: nil)) }
        }
    }

    private func listen(_ changes: AsyncStream<StoreChange>) async {
        for await change in changes {
            switch change {
            case .job(let id):
                await jobs.relay(id)
            case .work(let node) where node == nil || node == configuration.node:
                await jobs.serveRequests()
                await jobs.claimWork()
            case .work:
                continue
            }
        }
    }

    private func record() -> NodeRecord {
        let now = Date()
        return NodeRecord(id: configuration.node, role: configuration.role, address: configuration.address, startedAt: startedAt,
                          heartbeatAt: now, leaseUntil: now.addingTimeInterval(Self.seconds(configuration.lease)))
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
