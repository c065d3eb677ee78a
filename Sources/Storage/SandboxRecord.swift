import Foundation

/// What Knify knows about one sandbox. Written *before* the container is created, so a crash between the two leaves
/// a record the reconciler can match against the engine's label-filtered list.
public struct SandboxRecord: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// Recorded; the container may or may not exist yet.
        case creating
        case active
        /// Frozen between turns (freezer cgroup) until a continue or a cleanup.
        case paused
        /// Destroyed on purpose; the record stays for history.
        case cleaned
        /// The container vanished without Knify destroying it.
        case lost
    }

    public var id: String
    public var node: String
    public var policy: String
    public var image: String
    public var state: State
    public var containerId: String?
    public var jobId: String?
    public var sessionId: String?
    public var createdAt: Date
    public var lastUsedAt: Date
    /// Why the sandbox ended, for `cleaned` and `lost`.
    public var endReason: String?
    /// Holds a paused sandbox past its idle TTL (never past its maximum lifetime).
    public var keepAliveUntil: Date?
    /// Started ahead of demand and waiting in the warm pool; no job has used it yet.
    public var pooled: Bool = false

    /// Deterministic, so a half-finished create can be found by name.
    public var containerName: String { "knify-\(id)" }
    public var volumeName: String { "knify-ws-\(id)" }
    public var isLive: Bool { state == .creating || state == .active || state == .paused }

    public init(id: String, node: String, policy: String, image: String, state: State = .creating,
                jobId: String? = nil, sessionId: String? = nil, createdAt: Date = Date()) {
        self.id = id
        self.node = node
        self.policy = policy
        self.image = image
        self.state = state
        self.jobId = jobId
        self.sessionId = sessionId
        self.createdAt = createdAt
        self.lastUsedAt = createdAt
    }
}

/// Sandbox persistence, injected into the sandbox manager. SQLite and PostgreSQL stores implement it
/// (`SQLiteStore()` in memory serves tests and throwaway runs).
public protocol SandboxStore: Sendable {
    func saveSandbox(_ record: SandboxRecord) async throws
    func sandbox(id: String) async throws -> SandboxRecord?
    /// Live sandboxes of a node (creating, active, paused).
    func liveSandboxes(node: String) async throws -> [SandboxRecord]
    /// The live sandbox bound to an agent session, if any.
    func liveSandbox(session: String) async throws -> SandboxRecord?
}
