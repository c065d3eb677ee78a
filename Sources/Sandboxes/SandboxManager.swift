import DockerEngine
import Foundation
import Logging
import Metrics
import SandboxPolicy
import Storage

/// Owns every sandbox of one node: creates them from policies, binds them to agent sessions, pauses them between
/// turns, destroys them. Every container carries Knify's labels and is recorded in the store before it is created.
public actor SandboxManager {
    public struct Configuration: Sendable {
        public var image: String
        /// Names this manager's containers (`io.knify.node`), so several nodes can share an engine or a store.
        public var node: String
        public var policies: [String: Policy]
        public var defaultPolicy: String
        /// Sandboxes kept started ahead of demand, per policy name.
        public var warmPool: [String: Int]

        public init(image: String = SandboxImage.defaultTag, node: String, policies: [String: Policy],
                    defaultPolicy: String = "default", warmPool: [String: Int] = [:]) {
            self.image = image
            self.node = node
            self.policies = policies
            self.defaultPolicy = defaultPolicy
            self.warmPool = warmPool
        }
    }

    public struct AcquireRequest: Sendable {
        public var policy: String?
        public var jobId: String?
        /// Reuse the live sandbox bound to this agent session, if there is one.
        public var sessionId: String?
        /// A tar put into the workspace of a new sandbox (the sandbox's own copy).
        public var workspace: [UInt8]?

        public init(policy: String? = nil, jobId: String? = nil, sessionId: String? = nil, workspace: [UInt8]? = nil) {
            self.policy = policy
            self.jobId = jobId
            self.sessionId = sessionId
            self.workspace = workspace
        }
    }

    public enum Acquired: Sendable, Equatable {
        /// Created for this request (the pool was empty or not configured).
        case created(SandboxRecord)
        /// Taken from the warm pool.
        case warm(SandboxRecord)
        /// The live sandbox of the request's session.
        case reused(SandboxRecord)

        public var record: SandboxRecord {
            switch self {
            case .created(let record), .warm(let record), .reused(let record): return record
            }
        }
    }

    public struct PoolStatus: Sendable, Equatable {
        public var ready: Int
        public var target: Int
        public var hits: Int
        public var misses: Int

        public init(ready: Int, target: Int, hits: Int, misses: Int) {
            self.ready = ready
            self.target = target
            self.hits = hits
            self.misses = misses
        }
    }

    public enum Label {
        public static let sandbox = "io.knify.sandbox"
        public static let node = "io.knify.node"
        public static let job = "io.knify.job"
        public static let policy = "io.knify.policy"
    }

    let client: DockerClient
    let store: any SandboxStore
    public nonisolated let configuration: Configuration
    let logger: Logger
    /// Warm sandboxes ready to hand out, per policy, oldest first.
    var pool: [String: [String]] = [:]
    var poolCounters: [String: (hits: Int, misses: Int)] = [:]
    var fillTask: Task<Void, Never>?
    var refillDue = false
    var maintenanceTask: Task<Void, Never>?
    /// Terminations in flight per sandbox. `pause` waits for them: freezing a sandbox mid-termination would freeze
    /// the killer too, and its exec would never answer.
    var terminations: [String: Int] = [:]
    var terminationWaiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    /// Resumes and destroys in flight, by "resume/<id>" and "destroy/<id>" (see `coalesced`).
    var inFlight: [String: Task<SandboxRecord, any Error>] = [:]
    /// The engine's runtimes (`GET /info`) and when they were read: asked again after a minute, so an engine
    /// restarted with gVisor registered is noticed without restarting Knify.
    var offeredRuntimes: (names: Set<String>, readAt: ContinuousClock.Instant)?
    /// The runtime each sandbox runs under: set at create, read from the engine once for a sandbox adopted after a
    /// restart. Execs under runsc need the policy's filter installed by `knify-confine`.
    var sandboxRuntimes: [String: String] = [:]

    public init(client: DockerClient, store: any SandboxStore, configuration: Configuration,
                logger: Logger = Logger(label: "knify.sandboxes")) {
        self.client = client
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    /// A sandbox for a job: the live one bound to the session (unpaused), else a new one from the policy.
    public func acquire(_ request: AcquireRequest) async throws(SandboxError) -> Acquired {
        if let session = request.sessionId, var bound = try await storeCall({ try await store.liveSandbox(session: session) }),
           bound.node == configuration.node {
            if bound.state == .paused { bound = try await resume(bound.id) }
            bound.jobId = request.jobId ?? bound.jobId
            bound.lastUsedAt = Date()
            try await saveRecord(bound)
            return .reused(bound)
        }
        let policyName = request.policy ?? configuration.defaultPolicy
        if let warm = try await takeFromPool(policyName, for: request) {
            Counter(label: "knify_pool_hits_total", dimensions: [("policy", policyName)]).increment()
            return .warm(warm)
        }
        Counter(label: "knify_pool_misses_total", dimensions: [("policy", policyName)]).increment()
        let created = try await create(request, pooled: false)
        refillPoolInBackground()
        return .created(created)
    }

    func create(_ request: AcquireRequest, pooled: Bool) async throws(SandboxError) -> SandboxRecord {
        let policyName = request.policy ?? configuration.defaultPolicy
        guard let policy = configuration.policies[policyName] else {
            throw SandboxError(.policy, "no policy named \(policyName); known: \(configuration.policies.keys.sorted().joined(separator: ", "))")
        }
        var record = SandboxRecord(id: SandboxID.make(), node: configuration.node, policy: policyName,
                                   image: configuration.image, jobId: request.jobId, sessionId: request.sessionId)
        record.pooled = pooled
        let runtime = try await runtime(for: policy)
        try await saveRecord(record)  // before anything exists in the engine

        let labels = [Label.sandbox: record.id, Label.node: configuration.node, Label.policy: policyName,
                      Label.job: request.jobId ?? ""]
        do {
            // The engine creates the labelled workspace volume with the container: one round trip, not two.
            var spec = ContainerSpec(image: configuration.image, cmd: ["sleep", "infinity"], user: policy.user,
                                     labels: labels, hostname: "sandbox", stopSignal: "SIGKILL",
                                     hostConfig: policy.hostConfig(workspaceVolume: record.volumeName, volumeLabels: labels, runtime: runtime))
            spec.workingDir = policy.workspacePath
            let created = try await client.createContainer(spec, name: record.containerName)
            record.containerId = created.id
            sandboxRuntimes[record.id] = runtime
            // The engine silently drops limits it cannot apply: a sandbox without them is not the one asked for.
            guard created.warnings.isEmpty else {
                throw SandboxError(.engine, "the engine could not apply the policy \(policyName): \(created.warnings.joined(separator: "; "))")
            }
            try await client.startContainer(created.id)
            if let workspace = request.workspace {
                try await client.putArchive(in: created.id, path: policy.workspacePath, tar: workspace)
            }
        } catch let error as SandboxError {
            await abandon(&record, reason: error.message)
            throw error
        } catch let error as DockerError {
            await abandon(&record, reason: error.message)
            throw SandboxError("creating sandbox \(record.id) failed: \(error.message)", docker: error)
        } catch {
            await abandon(&record, reason: "\(error)")
            throw SandboxError(.engine, "creating sandbox \(record.id) failed", cause: error)
        }
        record.state = .active
        try await saveRecord(record)
        logger.info("sandbox created", metadata: ["sandbox": "\(record.id)", "policy": "\(policyName)"])
        return record
    }

    /// Removes what a failed create left behind; the record ends `cleaned` with the reason.
    private func abandon(_ record: inout SandboxRecord, reason: String) async {
        try? await client.removeContainer(record.containerName, force: true, volumes: true)
        try? await client.removeVolume(name: record.volumeName, force: true)
        record.state = .cleaned
        record.endReason = "create failed: \(reason)"
        try? await store.saveSandbox(record)
    }

    /// A process started in a sandbox. Its output streams through `output`; `SandboxManager.terminate` kills it
    /// (closing the stream alone would leave it running).
    public struct Execution: Sendable {
        public let sandboxId: String
        public let execId: String
        /// Marks every process of this execution (and its children) through their environment.
        public let token: String
        public let output: Output

        public typealias Output = AsyncThrowingStream<OutputChunk, any Error>
    }

    /// Starts a command in an active sandbox and streams its output. A pool refill that handing this sandbox out
    /// made due waits for `refillPoolIfDue()`: the refill's create would compete with the command's start for the
    /// engine and the CPUs (measured: +20 ms to a warm job's first agent event).
    public func exec(_ id: String, _ spec: ExecSpec) async throws(SandboxError) -> Execution {
        var record = try await liveRecord(id)
        guard record.state == .active else {
            throw SandboxError(.invalidState, "sandbox \(id) is \(record.state.rawValue); resume it first")
        }
        let token = SandboxID.token()
        let runtime = try await runtime(of: record)
        var marked = try confined(spec, in: record, runtime: runtime)
        marked.env.append("\(Self.execTokenVariable)=\(token)")
        let execution: Execution
        do {
            let execId = try await createExec(record.containerName, marked)
            execution = Execution(sandboxId: id, execId: execId, token: token,
                                  output: watched(try await client.startExec(execId, tty: spec.tty), in: record.containerName,
                                                  runtime: runtime))
        } catch {
            throw try await engineFailure(error, record: &record, doing: "exec in")
        }
        // Recorded once the command runs, not on the way to its first output. The command runs either way, so a
        // store that refuses this costs only the idle clock's accuracy.
        record.lastUsedAt = Date()
        do {
            try await saveRecord(record)
        } catch {
            logger.warning("could not record the sandbox's last use", metadata: ["sandbox": "\(id)", "error": "\(error)"])
        }
        return execution
    }

    /// Creates an exec in a sandbox this manager knows to be active. Engine 20.10 once refused such an exec as
    /// "container is paused" right after our unpause, under load (its paused flag lagging a late pause event, we
    /// think), so that refusal is answered by one more unpause and one retry.
    private func createExec(_ container: String, _ spec: ExecSpec) async throws(DockerError) -> String {
        do {
            return try await client.createExec(in: container, spec)
        } catch where error.code == .conflict && error.message.contains("is paused") {
            logger.warning("the engine still saw the sandbox paused; unpausing again", metadata: ["container": "\(container)"])
            try? await client.unpauseContainer(container)
            return try await client.createExec(in: container, spec)
        }
    }

    /// Kills every process of an execution inside the sandbox: the processes carrying its token in their
    /// environment, found through /proc as the sandbox user. Repeats until none is left (a process may fork while
    /// the loop runs); if that cannot be done, the container is killed rather than leaving the process running.
    public func terminate(_ execution: Execution) async throws(SandboxError) {
        terminations[execution.sandboxId, default: 0] += 1
        defer { endTermination(execution.sandboxId) }
        guard let record = try await storeCall({ try await store.sandbox(id: execution.sandboxId) }), record.isLive else { return }
        let script = """
            n=0; while [ $n -lt 20 ]; do found=0
              for d in /proc/[0-9]*; do
                if tr '\\0' '\\n' < "$d/environ" 2>/dev/null | grep -qx '\(Self.execTokenVariable)=\(execution.token)'; then
                  kill -9 "${d#/proc/}" 2>/dev/null && found=1
                fi
              done
              [ $found = 0 ] && exit 0; n=$((n+1))
            done; exit 1
            """
        // The killer gets 30 s: a sandbox the engine froze or lost must not hold its job's stop forever.
        let client = client
        let killing = Task { try await client.exec(in: record.containerName, ExecSpec(cmd: ["sh", "-c", script])) }
        let deadline = Task {
            try await Task.sleep(for: Self.killerDeadline)
            killing.cancel()
        }
        defer { deadline.cancel() }
        do {
            let killer = try await withTaskCancellationHandler { try await killing.value } onCancel: { killing.cancel() }
            if killer.exitCode == 0 { return }
            logger.warning("processes survived termination; killing the sandbox", metadata: ["sandbox": "\(record.id)"])
        } catch let error as DockerError where error.code == .cancelled && Task.isCancelled {
            // The caller gave up (its job ended meanwhile); killing the sandbox would only lose it.
            return
        } catch {
            logger.warning("cannot terminate inside the sandbox; killing it", metadata: ["sandbox": "\(record.id)", "error": "\(error)"])
        }
        do {
            try await client.killContainer(record.containerName)
        } catch {
            if error.code != .notFound && error.code != .conflict {
                throw SandboxError("killing sandbox \(record.id) failed: \(error.message)", docker: error)
            }
        }
    }

    private func endTermination(_ id: String) {
        terminations[id, default: 1] -= 1
        guard terminations[id] == 0 else { return }
        terminations[id] = nil
        for waiter in terminationWaiters.removeValue(forKey: id) ?? [] { waiter.resume() }
    }

    /// The exit code of a finished execution (-1 if the engine has none).
    public func exitCode(of execution: Execution) async throws(SandboxError) -> Int {
        do {
            return try await client.inspectExec(execution.execId).exitCode ?? -1
        } catch {
            throw SandboxError("reading the exit code failed: \(error.message)", docker: error)
        }
    }

    /// Reads a file or folder out of a sandbox as a tar (paused sandboxes too: the archive API needs no process).
    public func archive(_ id: String, path: String) async throws(SandboxError) -> [UInt8] {
        let record = try await liveRecord(id)
        do {
            return try await client.getArchive(in: record.containerName, path: path).tar
        } catch {
            throw SandboxError("reading \(path) from sandbox \(id) failed: \(error.message)", docker: error)
        }
    }

    /// Puts a tar into a sandbox at `path`.
    public func putArchive(_ id: String, path: String, tar: [UInt8]) async throws(SandboxError) {
        let record = try await liveRecord(id)
        do {
            try await client.putArchive(in: record.containerName, path: path, tar: tar)
        } catch {
            throw SandboxError("writing to \(path) in sandbox \(id) failed: \(error.message)", docker: error)
        }
    }

    /// Runs a command to completion, or until `timeout`, when its processes are killed and `timedOut` is set.
    public func run(_ id: String, _ spec: ExecSpec, timeout: Duration) async throws(SandboxError) -> (result: ExecResult, timedOut: Bool) {
        let execution = try await exec(id, spec)
        defer { refillPoolIfDue() }
        let timer = Task { () throws -> Bool in
            try await Task.sleep(for: timeout)
            // Its own task: cancelling the timer once the output ends must not cut the termination short.
            try await Task { try await self.terminate(execution) }.value
            return true
        }
        var result = ExecResult()
        do {
            for try await chunk in execution.output {
                switch chunk {
                case .stdout(let bytes): result.stdout += bytes
                case .stderr(let bytes): result.stderr += bytes
                }
            }
            timer.cancel()
            result.exitCode = try await client.inspectExec(execution.execId).exitCode ?? -1
        } catch let error as DockerError {
            timer.cancel()
            throw SandboxError("running a command in sandbox \(id) failed: \(error.message)", docker: error)
        } catch {
            timer.cancel()
            throw error as? SandboxError ?? SandboxError(.engine, "running a command in sandbox \(id) failed: \(error)")
        }
        // True only if it fired: a cancelled sleep throws.
        let timedOut = (try? await timer.value) == true
        return (result, timedOut)
    }

    static let execTokenVariable = "KNIFY_EXEC_TOKEN"
    static let killerDeadline: Duration = .seconds(30)

    /// Freezes the sandbox between turns. Pausing a paused sandbox is a no-op.
    @discardableResult
    public func pause(_ id: String) async throws(SandboxError) -> SandboxRecord {
        while terminations[id] != nil {
            await withCheckedContinuation { terminationWaiters[id, default: []].append($0) }
        }
        // A thaw under way finishes first; pausing beside it would find the sandbox still paused and do nothing.
        if let thawing = inFlight["resume/\(id)"] { _ = try? await thawing.value }
        var record = try await liveRecord(id)
        guard record.state != .paused else { return record }
        do {
            try await client.pauseContainer(record.containerName)
        } catch {
            throw try await engineFailure(error, record: &record, doing: "pausing")
        }
        record.state = .paused
        try await saveRecord(record)
        return record
    }

    /// Thaws a paused sandbox. Resuming an active sandbox is a no-op, and a resume that arrives while one is under
    /// way waits for it (a continue starts thawing its sandbox while it records the new job; its run then joins).
    @discardableResult
    public func resume(_ id: String) async throws(SandboxError) -> SandboxRecord {
        try await coalesced("resume", id) { try await self.performResume(id) }
    }

    private func performResume(_ id: String) async throws(SandboxError) -> SandboxRecord {
        var record = try await liveRecord(id)
        guard record.state == .paused else { return record }
        do {
            try await client.unpauseContainer(record.containerName)
        } catch {
            throw try await engineFailure(error, record: &record, doing: "resuming")
        }
        record.state = .active
        record.lastUsedAt = Date()
        try await saveRecord(record)
        return record
    }

    /// Destroys the container and its workspace volume. Idempotent: what is already gone counts as removed, and a
    /// second call answers the cleaned record.
    @discardableResult
    public func destroy(_ id: String, reason: String = "cleanup") async throws(SandboxError) -> SandboxRecord {
        defer { sandboxRuntimes[id] = nil }
        return try await coalesced("destroy", id) { try await self.performDestroy(id, reason: reason) }
    }

    /// Runs `work` unless the same operation on the same sandbox is in flight, in which case this waits for that one
    /// instead of racing the engine with a second (two cleanups of one sandbox at once, a continue's early thaw).
    private func coalesced(_ operation: String, _ id: String,
                           _ work: @escaping @Sendable () async throws -> SandboxRecord) async throws(SandboxError) -> SandboxRecord {
        let key = "\(operation)/\(id)"
        let task = inFlight[key] ?? Task { try await work() }
        inFlight[key] = task
        defer { inFlight[key] = nil }
        do {
            return try await task.value
        } catch let error as SandboxError {
            throw error
        } catch {
            throw SandboxError(.engine, "\(operation) of sandbox \(id) failed", cause: error)
        }
    }

    private func performDestroy(_ id: String, reason: String) async throws(SandboxError) -> SandboxRecord {
        guard var record = try await storeCall({ try await store.sandbox(id: id) }) else {
            throw SandboxError(.notFound, "no sandbox \(id)")
        }
        guard record.isLive else { return record }
        removeFromPool(id)
        // Every step runs; the first failure is reported. Already gone counts as removed.
        var firstError: DockerError?
        do {
            try await client.removeContainer(record.containerName, force: true, volumes: true)
        } catch {
            if error.code != .notFound { firstError = error }
        }
        do {
            try await client.removeVolume(name: record.volumeName, force: true)
        } catch {
            if error.code != .notFound { firstError = firstError ?? error }
        }
        if let firstError {
            throw SandboxError("destroying sandbox \(id) failed: \(firstError.message)", docker: firstError)
        }
        record.state = .cleaned
        record.endReason = reason
        try await saveRecord(record)
        logger.info("sandbox destroyed", metadata: ["sandbox": "\(id)", "reason": "\(reason)"])
        return record
    }

    public func sandbox(_ id: String) async throws(SandboxError) -> SandboxRecord? {
        try await storeCall { try await store.sandbox(id: id) }
    }

    /// This node's live sandboxes.
    public func liveRecords() async throws(SandboxError) -> [SandboxRecord] {
        try await storeCall { try await store.liveSandboxes(node: configuration.node) }
    }

    // MARK: - Helpers

    func liveRecord(_ id: String) async throws(SandboxError) -> SandboxRecord {
        guard let record = try await storeCall({ try await store.sandbox(id: id) }) else {
            throw SandboxError(.notFound, "no sandbox \(id)")
        }
        guard record.isLive else { throw SandboxError(.invalidState, "sandbox \(id) is \(record.state.rawValue)") }
        return record
    }

    /// A container that vanished under a live record marks the record `lost`.
    func engineFailure(_ error: DockerError, record: inout SandboxRecord, doing action: String)
        async throws(SandboxError) -> SandboxError
    {
        if error.code == .notFound {
            record.state = .lost
            record.endReason = "container vanished"
            try await saveRecord(record)
            return SandboxError(.notFound, "sandbox \(record.id) is lost: its container is gone")
        }
        return SandboxError("\(action) sandbox \(record.id) failed: \(error.message)", docker: error)
    }

    func saveRecord(_ record: SandboxRecord) async throws(SandboxError) {
        try await storeCall { try await store.saveSandbox(record) }
    }

    func storeCall<T>(_ body: () async throws -> T) async throws(SandboxError) -> T {
        do {
            return try await body()
        } catch {
            throw SandboxError(.store, "the sandbox store failed", cause: error)
        }
    }
}

/// `sbx_` + 16 random base62 characters: never sequential, safe in container and volume names.
public enum SandboxID {
    public static func make() -> String { "sbx_" + RandomID.base62(16) }

    /// An unguessable marker for one execution's processes.
    static func token() -> String { RandomID.base62(24) }
}

extension SandboxManager {
    /// The runtime a new sandbox of `policy` runs under: the policy's first preference the engine offers. None
    /// offered fails here, before anything is created, saying how to register it.
    func runtime(for policy: Policy) async throws(SandboxError) -> String {
        if policy.runtimes == ["runc"] { return "runc" }
        let offered: Set<String>
        if let cached = offeredRuntimes, ContinuousClock.now - cached.readAt < .seconds(60) {
            offered = cached.names
        } else {
            do {
                offered = Set(try await client.info().runtimes?.keys.map { $0 } ?? ["runc"])
            } catch {
                throw SandboxError("reading the engine's runtimes failed: \(error.message)", docker: error)
            }
            offeredRuntimes = (offered, ContinuousClock.now)
        }
        guard let runtime = policy.runtime(offered: offered) else {
            let wanted = policy.runtimes.joined(separator: " or ")
            throw SandboxError(.policy, "policy \(policy.name) needs the runtime \(wanted), which the engine does not offer (it has "
                + "\(offered.sorted().joined(separator: ", "))); \(Policy.registrationHint(for: policy.runtimes[0]))")
        }
        return runtime
    }

    /// The runtime a sandbox runs under: known since its create, or read from the engine once (adopted sandboxes).
    func runtime(of record: SandboxRecord) async throws(SandboxError) -> String {
        if let known = sandboxRuntimes[record.id] { return known }
        let runtime: String
        do {
            runtime = try await client.inspectContainer(record.containerName).hostConfig?.runtime ?? "runc"
        } catch {
            throw SandboxError("reading the runtime of sandbox \(record.id) failed: \(error.message)", docker: error)
        }
        sandboxRuntimes[record.id] = runtime
        return runtime
    }

    /// The exec as the sandbox's runtime needs it (`Policy.confined`). A runsc sandbox whose policy is no longer
    /// loaded gets no exec at all rather than one without its filter.
    func confined(_ spec: ExecSpec, in record: SandboxRecord, runtime: String) throws(SandboxError) -> ExecSpec {
        guard runtime != "runc" else { return spec }
        guard let policy = configuration.policies[record.policy] else {
            throw SandboxError(.policy, "sandbox \(record.id) runs under \(runtime) with policy \(record.policy), which is not loaded: "
                + "its seccomp filter cannot be applied to the command")
        }
        return policy.confined(spec, runtime: runtime)
    }

    /// An exec's output that also ends, with an error, when the sandbox itself ends: gVisor's shim can leave an
    /// exec's stream open after gVisor's kernel died (the OOM killer at the memory limit, a fork bomb at the pids
    /// limit), and a turn must not wait on it until its timeout. runc closes the stream itself.
    nonisolated func watched(_ output: DockerEngine.OutputStream, in container: String, runtime: String) -> Execution.Output {
        let client = client
        return Execution.Output { continuation in
            let reader = Task {
                do {
                    for try await chunk in output { continuation.yield(chunk) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            let watcher = runtime == "runc" ? nil : Task {
                guard let ended = try? await client.waitContainer(container), !Task.isCancelled else { return }
                continuation.finish(throwing: SandboxError(.engine, "the sandbox ended during the command (exit \(ended.statusCode))"))
                reader.cancel()
            }
            continuation.onTermination = { _ in
                reader.cancel()
                watcher?.cancel()
            }
        }
    }
}
