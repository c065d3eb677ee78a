import Agents
import DockerEngine
import Foundation
import Logging
import Sandboxes
import Storage
import Synchronization

/// Runs jobs: validates a spec, records the job, queues it under a concurrency limit, runs the agent in a sandbox,
/// streams its events to the store and to followers, collects artifacts, and always ends the job in a final state
/// with a reason.
public actor JobExecutor {
    public struct Configuration: Sendable {
        /// Jobs running at once; the rest wait `pending`, first come first served.
        public var concurrency: Int
        /// A running job is stopped (`failed`, "timed out") after this long.
        public var jobTimeout: Duration
        /// How long a cancelled or timed-out agent's output may take to end after its processes were killed.
        public var stopGrace: Duration = .seconds(15)
        public var workspaces: WorkspaceRoot
        /// Vendor keys by variable name (`CURSOR_API_KEY`, …): injected into the agent's exec only.
        public var agentKeys: [String: String]
        /// The sandbox policy per job type; `default` otherwise.
        public var policies: [String: String]
        /// Files larger than this are listed as artifacts but their contents are not kept.
        public var artifactMaximumBytes: Int64
        /// Contents above this size go to a file under `artifactDirectory` (when set) instead of the database.
        public var artifactInlineBytes: Int64 = 1 << 20
        /// Where large artifacts are kept (`<data dir>/artifacts`); nil keeps everything in the database.
        public var artifactDirectory: String?
        /// At most this many artifacts per job.
        public var artifactMaximumCount: Int
        public var node: String
        /// Jobs go through the store's queue: `submit` places them on the least loaded worker, and workers claim
        /// them (`ClusterMember`). Off, this process runs what it is given.
        public var clustered: Bool = false
        /// False on API-only nodes: they place and follow jobs but claim none.
        public var runsJobs: Bool = true

        public init(concurrency: Int = 4, jobTimeout: Duration = .seconds(1800), workspaces: WorkspaceRoot,
                    agentKeys: [String: String] = [:], policies: [String: String] = [:],
                    artifactMaximumBytes: Int64 = 100 << 20, artifactMaximumCount: Int = 200, artifactDirectory: String? = nil,
                    node: String = "local") {
            self.concurrency = max(1, concurrency)
            self.jobTimeout = jobTimeout
            self.workspaces = workspaces
            self.agentKeys = agentKeys
            self.policies = policies
            self.artifactMaximumBytes = artifactMaximumBytes
            self.artifactMaximumCount = artifactMaximumCount
            self.artifactDirectory = artifactDirectory
            self.node = node
        }
    }

    /// What a running job needs for cancel and timeout.
    struct Running {
        var execution: SandboxManager.Execution?
        var stopReason: StopReason?
    }

    enum StopReason: Sendable {
        case cancelled, timedOut, shutdown
    }

    let store: any Store
    let sandboxes: SandboxManager
    public let hub: JobEventHub
    public nonisolated let configuration: Configuration
    let logger: Logger
    var queue: [String] = []
    var running: [String: Running] = [:]
    var tasks: [String: Task<Void, Never>] = [:]
    /// False once `shutdown` began: queued jobs wait for the next start.
    var accepting = true
    /// Each sandbox's workspace checksums as its last turn left them: the next turn's baseline, so a continue needs
    /// no listing before the agent starts. Lost at restart, when a listing is taken instead.
    var workspaceListings: [String: [String: String]] = [:]
    /// `claimWork` is running (it awaits the store); a call meanwhile asks it to look once more instead of claiming
    /// beside it, which could take more jobs than the node has room for.
    var claiming = false
    var claimAgain = false

    public init(store: any Store, sandboxes: SandboxManager, configuration: Configuration, hub: JobEventHub = JobEventHub(),
                logger: Logger = Logger(label: "knify.jobs")) {
        self.store = store
        self.sandboxes = sandboxes
        self.configuration = configuration
        self.hub = hub
        self.logger = logger
    }

    // MARK: - Submit, continue

    /// Validates and records a job, then queues it. Answers with the job as recorded (`pending`, or `running` if a
    /// slot was free and it has already started).
    ///
    /// `id` makes the submission idempotent: a job already recorded under it is answered as it is, so a caller that
    /// chose the id before a crash (a knap run) can submit again without running it twice.
    public func submit(_ spec: JobSpec, tenant: String, id: String? = nil) async throws(JobError) -> JobRecord {
        if let id, let existing = try await storeCall({ try await store.job(id: id) }) { return existing }
        _ = try validate(spec)
        try await checkWorkspaceVisible(spec, tenant: tenant)
        var job = JobRecord(id: id ?? JobID.make(), tenant: tenant, jobType: spec.jobType, specJSON: try encode(spec),
                            userId: spec.subjectUserId)
        job.node = configuration.clustered ? await place() : configuration.node
        job.agentSessionId = spec.sessionId
        do {
            try await store.insertJob(job)
        } catch let error as StorageError where error.code == .conflict && id != nil {
            // Another server submitted the same run between our read and our insert.
            return try await current(job.id)
        } catch {
            throw JobError(store: error)
        }
        try await stage(job.id, "queued", "Job queued")
        await dispatch(job)
        return try await current(job.id)
    }

    /// Checks a spec as `submit` would (job type, prompt, model, workspace) without recording anything, for callers
    /// that keep a spec to submit later (a knap's agent and model).
    public nonisolated func check(_ spec: JobSpec) throws(JobError) {
        _ = try validate(spec)
    }

    /// A follow-up turn in the parent's sandbox and agent session.
    public func continueJob(_ parentId: String, spec: JobSpec, tenant: String?) async throws(JobError) -> JobRecord {
        let parent = try await visibleJob(parentId, tenant: tenant)
        guard parent.status.isFinal else {
            throw JobError(.conflict, "job \(parentId) is \(parent.status.rawValue); continue it once it has finished")
        }
        guard spec.jobType == parent.jobType else {
            throw JobError(.invalidSpec, "job_type must be \(parent.jobType), the parent's")
        }
        guard parent.jobType != JobType.userExam else {
            throw JobError(.invalidSpec, "user_exam jobs have no conversation to continue")
        }
        _ = try validate(spec)
        let cleanedUp = JobError(.conflict, "the sandbox of job \(parentId) has been cleaned up; start a new job instead")
        guard let sandboxId = parent.sandboxId else { throw cleanedUp }
        // The sandbox and the jobs that could be using it, read side by side.
        async let unfinished = store.unfinishedJobs()
        guard let sandbox = try await sandboxCall({ try await sandboxes.sandbox(sandboxId) }), sandbox.isLive else { throw cleanedUp }
        let busy: Bool
        do {
            busy = try await unfinished.contains { $0.sandboxId == sandboxId }
        } catch {
            throw JobError(store: error)
        }
        if busy { throw JobError(.conflict, "sandbox \(sandboxId) is busy with another turn") }
        // Thawing starts now, beside the writes below; the run's own resume joins it. The unpause is the engine's
        // longest step of a continue, and nothing it needs comes from those writes.
        let thawing = !configuration.clustered || sandbox.node == configuration.node
        if thawing { Task { [sandboxes] in _ = try? await sandboxes.resume(sandboxId) } }
        var child = JobRecord(id: JobID.make(), tenant: parent.tenant, jobType: spec.jobType, specJSON: try encode(spec),
                              userId: spec.subjectUserId ?? parent.userId, parentJobId: parent.id)
        // Pinned: only the node whose engine holds the sandbox can run the turn.
        child.node = configuration.clustered ? sandbox.node : configuration.node
        child.sandboxId = sandboxId
        child.agentSessionId = parent.agentSessionId
        do {
            try await storeCall { try await store.insertJob(child) }
            try await stage(child.id, "queued", "Continuing job \(parent.id)")
        } catch {
            // No turn follows: the sandbox goes back to sleep (a pause waits for the thaw under way).
            if thawing { Task { [sandboxes] in _ = try? await sandboxes.pause(sandboxId) } }
            throw error
        }
        await dispatch(child)
        return try await current(child.id)
    }

    // MARK: - Cancel, cleanup

    /// Stops a job: a queued one never starts, a running one's agent is killed inside the sandbox. A finished job
    /// is answered as it is.
    public func cancel(_ id: String, tenant: String?) async throws(JobError) -> JobRecord {
        var job = try await visibleJob(id, tenant: tenant)
        if job.status == .pending, let index = queue.firstIndex(of: id) {
            queue.remove(at: index)
            job.status = .cancelled
            job.completedAt = Date()
            job.error = "cancelled before it started"
            // A continue thawed its sandbox when it was submitted: frozen again, as after any turn.
            if let sandboxId = job.sandboxId { _ = try? await sandboxes.pause(sandboxId) }
            try await stage(id, "cancelled", "Job cancelled before it started", level: .warning)
            try await storeCall { [job] in try await store.updateJob(job) }
            await hub.finish(jobId: id, status: .cancelled)
            return job
        }
        if configuration.clustered, running[id] == nil, !job.status.isFinal {
            return try await cancelElsewhere(job)
        }
        // Only a job this executor is running can be stopped here; the store's status may be a moment behind.
        if running[id] != nil {
            running[id]?.stopReason = .cancelled
            if let execution = running[id]?.execution {
                try? await sandboxes.terminate(execution)
            }
            await awaitStop(id)
        }
        return try await current(id)
    }

    /// Waits for a stopped job's run to end. If the agent's output has not ended `stopGrace` after its processes
    /// were killed, the run is cancelled, which abandons the output stream: the job still ends `cancelled`, and
    /// its sandbox is paused as usual, freezing whatever survived.
    func awaitStop(_ id: String) async {
        guard let task = tasks[id] else { return }
        if await Self.wait(for: task, upTo: configuration.stopGrace) { return }
        logger.warning("the agent's output did not end after termination; abandoning it", metadata: ["job": "\(id)"])
        task.cancel()
        await task.value
    }

    /// Whether `task` finished within `limit` (it keeps running either way).
    static func wait(for task: Task<Void, Never>, upTo limit: Duration) async -> Bool {
        let resumed = Mutex(false)
        return await withCheckedContinuation { continuation in
            let finish: @Sendable (Bool) -> Void = { finished in
                if resumed.withLock({ done in defer { done = true }; return !done }) { continuation.resume(returning: finished) }
            }
            Task {
                await task.value
                finish(true)
            }
            Task {
                try? await Task.sleep(for: limit)
                finish(false)
            }
        }
    }

    /// Graceful stop: nothing new starts; running jobs get `grace` to finish, then are cancelled ("server shutting
    /// down"), so none is left `running`. Queued jobs stay queued in the store and start at the next start.
    public func shutdown(grace: Duration) async {
        accepting = false
        queue.removeAll()
        let runs = Array(tasks.values)
        let all = Task { for run in runs { await run.value } }
        if await Self.wait(for: all, upTo: grace) { return }
        await stopAll(.shutdown)
        for id in Array(tasks.keys) { await awaitStop(id) }
    }

    private func stopAll(_ reason: StopReason) async {
        for id in Array(running.keys) {
            running[id]?.stopReason = reason
            if let execution = running[id]?.execution { try? await sandboxes.terminate(execution) }
        }
    }

    /// Destroys the job's sandbox permanently, cancelling the job first if it still runs. Idempotent.
    public func cleanup(_ id: String, tenant: String?) async throws(JobError) -> (job: JobRecord, alreadyCleaned: Bool) {
        var job = try await visibleJob(id, tenant: tenant)
        if !job.status.isFinal { job = try await cancel(id, tenant: tenant) }
        guard let sandboxId = job.sandboxId,
              let sandbox = try await sandboxCall({ try await sandboxes.sandbox(sandboxId) }), sandbox.isLive else {
            return (job, true)
        }
        if configuration.clustered, sandbox.node != configuration.node {
            return (try await cleanupElsewhere(job, sandbox: sandbox), false)
        }
        _ = try await sandboxCall { try await sandboxes.destroy(sandboxId, reason: "cleanup of job \(id)") }
        workspaceListings[sandboxId] = nil
        try await stage(id, "sandbox_cleaned", "Sandbox \(sandboxId) destroyed")
        await announce(id)
        return (try await current(id), false)
    }

    // MARK: - Reading

    /// The job if the tenant may see it (nil tenant: admin, sees all); another tenant's job is not found.
    public nonisolated func visibleJob(_ id: String, tenant: String?) async throws(JobError) -> JobRecord {
        guard let job = try await storeCall({ try await store.job(id: id) }), tenant == nil || job.tenant == tenant else {
            throw JobError(.notFound, "no job \(id)")
        }
        return job
    }

    /// The job's agent events after `after`, then live ones until the job ends (`.done` last). `backlog` bounds what
    /// is held for a slow follower (past it the feed ends early; see `JobFeed`); `heartbeat` adds a `.heartbeat`
    /// every period.
    public func follow(_ id: String, after: Int, backlog: Int = 65_536, heartbeat: Duration? = nil) async throws(JobError) -> JobFeed {
        let (subscription, live) = await hub.subscribe(jobId: id, limit: backlog, heartbeat: heartbeat)
        let handle = JobFeed.Subscription(hub: hub, jobId: id, id: subscription)
        // The status first: if it is final, every event was stored before it, and the read below has them all.
        let job = try await current(id)
        let stored = try await storeCall { try await store.agentEvents(jobId: id, after: after) }
        return JobFeed(stored: stored, finalStatus: job.status.isFinal ? job.status : nil, live: live, after: after,
                       subscription: handle)
    }

    // MARK: - Restart recovery

    /// After a restart: queued jobs are queued again; jobs that were running end `failed` ("orchestrator
    /// restarted") and their sandboxes are paused, which also freezes whatever the agent left running.
    public func recover() async throws(JobError) {
        if configuration.clustered { try await storeCall { try await store.releaseClaims(node: configuration.node) } }
        for var job in try await storeCall({ try await store.unfinishedJobs() }) where job.node == configuration.node {
            if job.status == .pending {
                // Clustered, released claims are claimed again by `claimWork`.
                if !configuration.clustered { enqueue(job.id) }
                continue
            }
            job.status = .failed
            job.error = "orchestrator restarted"
            job.errorCode = "INTERNAL_ERROR"
            job.completedAt = Date()
            // Paused first, as a run's end does; then the end is recorded, retried in the background if the store
            // refuses it now (a full data disk), so the server still starts and answers.
            if let sandboxId = job.sandboxId { _ = try? await sandboxes.pause(sandboxId) }
            await recordEnd(job, detail: "Job failed: orchestrator restarted", level: .error, background: true)
        }
    }

    // MARK: - Queue

    func enqueue(_ id: String) {
        queue.append(id)
        startQueued()
    }

    private func startQueued() {
        while accepting, tasks.count < configuration.concurrency, !queue.isEmpty {
            let id = queue.removeFirst()
            running[id] = Running()
            tasks[id] = Task { await self.run(id) }
        }
    }

    func finished(_ id: String) {
        tasks[id] = nil
        running[id] = nil
        startQueued()
        if configuration.clustered { Task { await self.claimWork() } }
    }

    // MARK: - Helpers

    func current(_ id: String) async throws(JobError) -> JobRecord {
        guard let job = try await storeCall({ try await store.job(id: id) }) else {
            throw JobError(.notFound, "no job \(id)")
        }
        return job
    }

    func stage(_ id: String, _ stage: String, _ detail: String, level: StageEvent.Level = .info) async throws(JobError) {
        _ = try await storeCall { try await store.appendStage(jobId: id, StageEvent(stage: stage, level: level, detail: detail)) }
    }

    /// Runs on the caller's isolation (the actor, or none for the nonisolated reads), so `body` need not be Sendable.
    func storeCall<T>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T) async throws(JobError) -> T {
        do {
            return try await body()
        } catch {
            throw JobError(store: error)
        }
    }

    func sandboxCall<T>(_ body: () async throws -> T) async throws(JobError) -> T {
        do {
            return try await body()
        } catch let error as SandboxError {
            throw JobError(.sandbox, error.message, engineUnavailable: error.code == .engineUnavailable, cause: error)
        } catch let error as JobError {
            throw error
        } catch {
            throw JobError(.sandbox, "\(error)", cause: error)
        }
    }

    func encode(_ spec: JobSpec) throws(JobError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(spec) else { throw JobError(.invalidSpec, "the spec cannot be encoded") }
        return String(decoding: data, as: UTF8.self)
    }

    func decode(_ job: JobRecord) throws(JobError) -> JobSpec {
        do {
            return try JSONDecoder().decode(JobSpec.self, from: Data(job.specJSON.utf8))
        } catch {
            throw JobError(.internalError, "the stored spec of job \(job.id) cannot be read", cause: error)
        }
    }
}

/// `job_` + 16 random base62 characters: never sequential.
public enum JobID {
    public static func make() -> String { "job_" + RandomID.base62(16) }
}
