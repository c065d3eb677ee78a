import Foundation

/// Everything Knify persists about jobs. SQLite (embedded default) and PostgreSQL (clusters) implement it; callers
/// receive it injected and never see SQL.
public protocol JobStore: Sendable {
    func insertJob(_ job: JobRecord) async throws
    /// Replaces the stored job; throws `StorageError.notFound` if there is none.
    func updateJob(_ job: JobRecord) async throws
    func job(id: String) async throws -> JobRecord?
    /// A page of jobs and the total count matching the query.
    func jobs(_ query: JobQuery) async throws -> (jobs: [JobRecord], total: Int)
    /// Jobs not yet final, oldest first (restart recovery).
    func unfinishedJobs() async throws -> [JobRecord]

    /// Appends a stage event and returns it with its sequence number.
    @discardableResult
    func appendStage(jobId: String, _ event: StageEvent) async throws -> StageEvent
    func stages(jobId: String) async throws -> [StageEvent]
    /// A job with its stages, artifact paths and its sandbox's state, read in one transaction (`GET /jobs/{id}`).
    func jobDetail(id: String) async throws -> JobDetail?

    /// Appends agent events in order, numbering them after the job's last one; returns them numbered.
    @discardableResult
    func appendAgentEvents(jobId: String, _ events: [AgentEventRow]) async throws -> [AgentEventRow]
    /// The job's agent events with a sequence above `after`, in order.
    func agentEvents(jobId: String, after: Int) async throws -> [AgentEventRow]

    func saveArtifacts(jobId: String, _ artifacts: [ArtifactRecord]) async throws
    /// Artifact metadata and inline contents.
    func artifacts(jobId: String) async throws -> [ArtifactRecord]
}

/// API keys, Knaps clients and uploaded workspaces.
public protocol AccessStore: Sendable {
    func insertAPIKey(_ key: APIKeyRecord) async throws
    /// The key with this hash, revoked or not.
    func apiKey(hash: String) async throws -> APIKeyRecord?
    func apiKeys() async throws -> [APIKeyRecord]
    /// Marks a key revoked; returns false if there is no such key.
    @discardableResult
    func revokeAPIKey(id: String) async throws -> Bool

    /// Knaps API clients (client credentials).
    func insertClient(_ client: ClientRecord) async throws
    func client(id: String) async throws -> ClientRecord?
    func clients() async throws -> [ClientRecord]
    @discardableResult
    func revokeClient(id: String) async throws -> Bool

    func insertWorkspace(_ workspace: WorkspaceRecord) async throws
    func workspace(name: String) async throws -> WorkspaceRecord?
    func workspaces(tenant: String?) async throws -> [WorkspaceRecord]
}

/// Knaps, their runs and the OAuth tokens of Knaps API clients.
public protocol KnapStore: Sendable {
    func insertToken(_ token: OAuthTokenRecord) async throws
    func token(hash: String) async throws -> OAuthTokenRecord?
    /// Revokes a token; false if it was already revoked or unknown, so a refresh token is spent exactly once.
    @discardableResult
    func revokeToken(hash: String, at date: Date) async throws -> Bool

    func insertKnap(_ knap: KnapRecord) async throws
    /// Replaces the stored knap; throws `StorageError.notFound` if there is none.
    func updateKnap(_ knap: KnapRecord) async throws
    func knap(uuid: String) async throws -> KnapRecord?
    /// Deletes the knap (its runs stay, as history); false if there was none.
    @discardableResult
    func deleteKnap(uuid: String) async throws -> Bool
    /// What a user may see: their own knaps, their organisation's and the public ones, newest first.
    func knaps(visibleTo userId: String, org: String?) async throws -> [KnapRecord]
    /// Every knap, for operators (`knify-sandbox knaps ls`), newest first.
    func allKnaps() async throws -> [KnapRecord]
    /// Active knaps of one schedule type (`post_meeting_transcription` triggers), oldest first.
    func activeKnaps(scheduleType: String) async throws -> [KnapRecord]
    /// Active scheduled knaps whose `next_run_at` is at or before `now`.
    func dueKnaps(at now: Date) async throws -> [KnapRecord]
    /// Claims a knap's due slot in one transaction: moves `next_run_at` from `run.slotAt` to `next` and records the
    /// run. False when another scheduler (another server, or this one before a restart) already claimed it.
    func claimSlot(_ run: KnapRunRecord, next: Date?) async throws -> Bool

    func insertRun(_ run: KnapRunRecord) async throws
    func run(id: String) async throws -> KnapRunRecord?
    /// A knap's runs with their jobs' status, newest first.
    func runs(knapUUID: String, limit: Int) async throws -> [KnapRunStatus]
    /// The chat's latest run: the turn a follow-up continues.
    func lastRun(chatId: String) async throws -> KnapRunRecord?
    /// Runs recorded between `after` and `before` whose job was never recorded (the server died in between). The
    /// window keeps the scheduler's check, made every pass, from reading the whole run history.
    func runsWithoutJob(createdAfter after: Date, before: Date) async throws -> [KnapRunRecord]
}

/// The whole store the server is given.
public typealias Store = JobStore & SandboxStore & AccessStore & KnapStore & ClusterStore

/// The one error type of the Storage layer.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable { case notFound, conflict, unavailable, full, corrupt }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        public var description: String { value.rawValue }

        public static let notFound = Code(.notFound)
        public static let conflict = Code(.conflict)
        /// The database cannot be opened or written (disk full, permissions).
        public static let unavailable = Code(.unavailable)
        /// The disk under the database is full: nothing was written, and the store works again once there is room.
        public static let full = Code(.full)
        public static let corrupt = Code(.corrupt)
    }

    public let code: Code
    public let message: String
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { cause.map { "\(message) [\($0)]" } ?? message }
}
