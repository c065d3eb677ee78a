import Foundation

/// One Knify process of a cluster, as its heartbeats record it. A node holds a lease it renews; a node whose lease
/// ran out is `lost`, and what it was running is ended or moved by whichever node notices (`expireNodes`).
public struct NodeRecord: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        case up
        /// Its lease ran out: it stopped heartbeating without saying goodbye (killed, partitioned, host gone).
        case lost
        /// It stopped on purpose (`leave`): its jobs were ended by its own shutdown.
        case left
    }

    public var id: String
    /// `api`, `worker` or `all`; only `worker` and `all` nodes run jobs.
    public var role: String
    public var state: State
    /// Where its HTTP API listens (`127.0.0.1:8081`), for operators.
    public var address: String?
    public var startedAt: Date
    public var heartbeatAt: Date
    public var leaseUntil: Date

    public init(id: String, role: String, state: State = .up, address: String? = nil, startedAt: Date = Date(),
                heartbeatAt: Date = Date(), leaseUntil: Date) {
        self.id = id
        self.role = role
        self.state = state
        self.address = address
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.leaseUntil = leaseUntil
    }

    public var runsJobs: Bool { role == "worker" || role == "all" }
}

/// A worker node with a valid lease and how busy it is: placement sends a new job to the least loaded.
public struct NodeLoad: Sendable, Equatable {
    public var node: String
    /// Its live sandboxes (creating, active, paused) plus its unfinished jobs that have no sandbox yet.
    public var load: Int

    public init(node: String, load: Int) {
        self.node = node
        self.load = load
    }
}

/// What `expireNodes` did about one lost node.
public struct NodeLoss: Sendable, Equatable {
    public var node: String
    /// Jobs that had started (or were pinned to its sandboxes) and now are `failed`.
    public var failedJobs: [String]
    /// Jobs that never started: unplaced again, for any live worker to claim.
    public var requeuedJobs: [String]
    /// Its live sandboxes, now `lost`; the node's reconciler removes their containers when it comes back.
    public var lostSandboxes: [String]

    public init(node: String, failedJobs: [String] = [], requeuedJobs: [String] = [], lostSandboxes: [String] = []) {
        self.node = node
        self.failedJobs = failedJobs
        self.requeuedJobs = requeuedJobs
        self.lostSandboxes = lostSandboxes
    }
}

/// Something one node asks of the node that holds a job or sandbox, because only that node's engine can do it.
public struct NodeRequest: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// Stop the job's agent (`POST /jobs/{id}/cancel` on another node).
        case cancel
        /// Destroy the job's sandbox (`DELETE /jobs/{id}` or `/cleanup` on another node).
        case cleanup
    }

    public var id: String
    public var node: String
    public var kind: Kind
    public var jobId: String
    public var createdAt: Date

    public init(id: String = "req_" + RandomID.base62(16), node: String, kind: Kind, jobId: String, createdAt: Date = Date()) {
        self.id = id
        self.node = node
        self.kind = kind
        self.jobId = jobId
        self.createdAt = createdAt
    }
}

/// A change another process made, announced so nobody polls for it.
public enum StoreChange: Sendable, Equatable {
    /// The job's status, stages or agent events changed: followers read on from their last sequence.
    case job(String)
    /// A node has new work: a job placed on it (or on no node, `nil`: any worker), or a request.
    case work(node: String?)
}

/// The cluster's shared state: nodes and their leases, the job queue workers claim from, requests between nodes,
/// change notifications, cluster-wide locks and shared counters. PostgreSQL implements it across processes
/// (`FOR UPDATE SKIP LOCKED`, `LISTEN/NOTIFY`, advisory locks); SQLite implements it within one process, which is
/// all a single machine needs and lets tests run several nodes against one file.
public protocol ClusterStore: Sendable {
    /// Registers the node or renews its lease; a node that was `lost` or `left` and heartbeats again is `up`.
    func heartbeat(_ node: NodeRecord) async throws
    func nodes() async throws -> [NodeRecord]
    /// The node stopped on purpose: `left`, its lease ends now, and its pending jobs that are not pinned to its
    /// sandboxes go back to no node, unclaimed, for the other workers.
    func leave(node: String, at date: Date) async throws

    /// Up nodes that run jobs, with a lease valid at `now`, and their load; least loaded first, then by id.
    func workerLoads(at now: Date) async throws -> [NodeLoad]
    /// Takes the oldest pending job placed on `node` or on no node that nobody has claimed (`FOR UPDATE SKIP
    /// LOCKED`); the job is then placed on `node` and claimed by it. Nil when there is none.
    func claimJob(node: String) async throws -> JobRecord?
    /// Forgets the node's claims on jobs still pending: after a restart its queue in memory is gone, and they are
    /// claimed again.
    func releaseClaims(node: String) async throws
    /// Ends a pending job nobody has claimed yet as `cancelled`, atomically against `claimJob`; nil when it was
    /// claimed (its node must cancel it) or is not pending.
    func cancelUnclaimed(jobId: String, at date: Date, reason: String) async throws -> JobRecord?
    /// Marks every `up` node whose lease ended before `now` as `lost`, in one transaction per node: its started or
    /// pinned (continuation) jobs end `failed` with `reason` and error code `SANDBOX_ERROR` and a `failed` stage,
    /// its other pending jobs go back to no node and unclaimed, its live sandboxes become `lost` with `reason`.
    func expireNodes(at now: Date, reason: String) async throws -> [NodeLoss]

    func insertNodeRequest(_ request: NodeRequest) async throws
    /// Removes and returns the node's requests, oldest first.
    func takeNodeRequests(node: String) async throws -> [NodeRequest]

    /// Announces a change to every process of the cluster (this one included).
    func notify(_ change: StoreChange) async throws
    /// Changes announced from now on, by any process, until the stream is dropped.
    func changes() async -> AsyncStream<StoreChange>

    /// Whether this process holds the named cluster-wide lock, taking it when it is free. It is released when the
    /// process or its database session ends, so another node takes it over.
    func holdLock(_ name: String) async throws -> Bool

    /// Counts one hit on a shared counter (a rate-limit window) and returns the count including it. Counters whose
    /// window started before `expireBefore` may be dropped.
    func hit(_ key: String, window: Int64, expireBefore: Int64) async throws -> Int
    /// A random 32-byte secret shared by every node under this name, made by whichever node asks first (the
    /// signing key of stream tokens).
    func sharedSecret(_ name: String) async throws -> Data

    /// Ends the store's connections and `changes()` streams at shutdown; idempotent.
    func close() async
}
