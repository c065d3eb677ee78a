import Agents
import DockerEngine
import Foundation
import Metrics
import Sandboxes
import Storage

extension JobExecutor {
    /// A spec checked against the reference's required and conditional fields.
    struct ValidatedSpec {
        var spec: JobSpec
        /// Nil for `user_exam`, which runs the report tool instead of an agent.
        var driver: AgentDriver?
        var model: String
        var workspace: URL?
    }

    nonisolated func validate(_ spec: JobSpec) throws(JobError) -> ValidatedSpec {
        guard JobType.all.contains(spec.jobType) else {
            throw JobError(.invalidSpec, "unknown job_type \(spec.jobType); expected one of \(JobType.all.joined(separator: ", "))")
        }
        if let session = spec.sessionId,
           session.range(of: #"^[A-Za-z0-9._-]{1,128}$"#, options: .regularExpression) == nil {
            throw JobError(.invalidSpec, "session_id may hold letters, digits, '.', '_' and '-' (at most 128)")
        }
        if let metadata = spec.metadata, case .object = metadata {} else if spec.metadata != nil {
            throw JobError(.invalidSpec, "metadata must be an object")
        }
        let workspace = try spec.workspacePath.map { path throws(JobError) in try configuration.workspaces.resolve(path) }
        if spec.jobType == JobType.userExam {
            guard spec.userId?.isEmpty == false else { throw JobError(.invalidSpec, "user_id is required for user_exam") }
            guard let range = spec.timeRange else {
                throw JobError(.invalidSpec, "time_range {from, to} (ISO-8601) is required for user_exam")
            }
            guard range.from <= range.to else { throw JobError(.invalidSpec, "time_range.from is after time_range.to") }
            return ValidatedSpec(spec: spec, driver: nil, model: "n/a", workspace: workspace)
        }
        guard let driver = AgentDriver.forJobType(spec.jobType) else {
            throw JobError(.invalidSpec, "unknown job_type \(spec.jobType)")
        }
        guard let prompt = spec.prompt, !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw JobError(.invalidSpec, "prompt is required for \(spec.jobType)")
        }
        guard prompt.utf8.count <= 256 << 10 else { throw JobError(.invalidSpec, "prompt is longer than 256 KiB") }
        let model: String
        do {
            model = try driver.validateModel(spec.model)
        } catch {
            throw JobError(.invalidSpec, error.message)
        }
        return ValidatedSpec(spec: spec, driver: driver, model: model, workspace: workspace)
    }

    /// One job from start to final state. Whatever happens, the job ends `completed`, `failed` or `cancelled` with
    /// a reason, its followers hear `done`, and its sandbox is paused for a continue.
    func run(_ id: String) async {
        defer { finished(id) }
        var job: JobRecord
        do {
            job = try await current(id)
        } catch {
            logger.error("job vanished before it started", metadata: ["job": "\(id)", "error": "\(error)"])
            return
        }
        guard job.status == .pending else { return }
        if let reason = running[id]?.stopReason, reason != .timedOut {
            await finish(&job, .cancelled, error: reason == .shutdown ? "server shutting down" : "cancelled before it started", code: nil)
            return
        }
        job.status = .running
        job.startedAt = Date()
        let result: Outcome
        do {
            try await storeCall { [job] in try await store.updateJob(job) }
            let validated = try validate(try decode(job))
            let (sandbox, baseline) = try await prepareSandbox(&job, validated)
            if let driver = validated.driver {
                result = try await runAgent(&job, validated, driver: driver, sandbox: sandbox, baseline: baseline)
            } else {
                result = try await runUserExam(&job, validated, sandbox: sandbox)
            }
        } catch {
            result = outcome(of: error, job: job)
        }
        // The ending runs in a task of its own, so it is not cancelled with the run (see `awaitStop`): the job
        // must reach its final state whatever happened above.
        let ending = job
        await Task { await self.conclude(ending, result) }.value
    }

    /// Pauses the sandbox, then records the final state. Paused first: a continue that follows the final state at
    /// once finds the sandbox ready to resume.
    private func conclude(_ ending: JobRecord, _ result: Outcome) async {
        var job = ending
        if let sandboxId = job.sandboxId, (try? await sandboxes.pause(sandboxId)) != nil {
            try? await stage(job.id, "sandbox_paused", "Sandbox paused until a continue or a cleanup")
        }
        await finish(&job, result.status, error: result.error, code: result.code)
    }

    /// How a run ended, recorded once the sandbox is paused.
    struct Outcome {
        var status: JobRecord.Status
        var error: String?
        var code: String?

        static let completed = Outcome(status: .completed)
        static func failed(_ reason: String, code: String) -> Outcome { Outcome(status: .failed, error: reason, code: code) }
    }

    private func outcome(of error: JobError, job: JobRecord) -> Outcome {
        switch running[job.id]?.stopReason {
        case .cancelled?: return Outcome(status: .cancelled, error: "cancelled")
        case .shutdown?: return Outcome(status: .cancelled, error: "server shutting down")
        case .timedOut?: return .failed("timed out after \(configuration.jobTimeout)", code: "TIMEOUT")
        case nil: return .failed(error.message, code: error.code == .sandbox ? "SANDBOX_ERROR" : "INTERNAL_ERROR")
        }
    }

    /// Ends the job: final state, reason, stage event, followers told.
    func finish(_ job: inout JobRecord, _ status: JobRecord.Status, error: String?, code: String?) async {
        // Clustered, the cluster may have ended the job while this node was cut off ("node lost"): that ending stays.
        if configuration.clustered, let stored = try? await store.job(id: job.id), stored.status.isFinal {
            logger.warning("the cluster ended this job while it ran here", metadata: ["job": "\(job.id)", "status": "\(stored.status)"])
            job = stored
            await hub.finish(jobId: job.id, status: stored.status)
            return
        }
        job.status = status
        job.completedAt = Date()
        job.error = status == .completed ? nil : error
        job.errorCode = status == .completed ? nil : code
        let detail = switch status {
        case .completed: "Job completed successfully"
        case .cancelled: "Job cancelled"
        default: "Job failed: \(error ?? "unknown")"
        }
        await recordEnd(job, detail: detail, level: status == .completed ? .info : status == .cancelled ? .warning : .error)
        await hub.finish(jobId: job.id, status: status)
        await announce(job.id)
        if let started = job.startedAt, let completed = job.completedAt {
            Metrics.Timer(label: "knify_job_duration_seconds", dimensions: [("status", status.rawValue), ("job_type", job.jobType)])
                .recordSeconds(completed.timeIntervalSince(started))
        }
    }

    /// The sandbox this job runs in: the parent's (continue), the session's, a warm one, or a new one. For a fresh
    /// sandbox it also answers the workspace's checksums, known from what was copied in, so no listing is needed.
    private func prepareSandbox(_ job: inout JobRecord, _ validated: ValidatedSpec)
        async throws(JobError) -> (SandboxRecord, baseline: [String: String]?)
    {
        let record: SandboxRecord
        var baseline: [String: String]?
        if let pinned = job.sandboxId {
            record = try await sandboxCall { try await sandboxes.resume(pinned) }
            try await stage(job.id, "sandbox_reused", "Sandbox \(pinned) resumed for the next turn")
        } else {
            let workspace = try validated.workspace.map { url throws(JobError) in try configuration.workspaces.archive(url) }
            let request = SandboxManager.AcquireRequest(policy: configuration.policies[job.jobType], jobId: job.id,
                                                        sessionId: validated.spec.sessionId, workspace: workspace)
            let acquired = try await sandboxCall { try await sandboxes.acquire(request) }
            record = acquired.record
            switch acquired {
            case .reused: try await stage(job.id, "sandbox_reused", "Sandbox \(record.id) of session \(validated.spec.sessionId ?? "") resumed")
            case .warm: try await stage(job.id, "sandbox_created", "Sandbox \(record.id) provisioned from the warm pool")
            case .created: try await stage(job.id, "sandbox_created", "Sandbox \(record.id) provisioned")
            }
            if case .reused = acquired {} else { baseline = Self.checksums(ofArchive: workspace ?? []) }
        }
        if job.sandboxId != record.id {  // a continue's job was recorded with its sandbox already
            job.sandboxId = record.id
            try await storeCall { [job] in try await store.updateJob(job) }
        }
        return (record, baseline)
    }

    private func runAgent(_ job: inout JobRecord, _ validated: ValidatedSpec, driver: AgentDriver,
                          sandbox: SandboxRecord, baseline: [String: String]?) async throws(JobError) -> Outcome {
        let key = configuration.agentKeys[driver.apiKeyVariable]
        let secrets = key.map { [$0] } ?? []
        let environment = driver.environment(apiKey: key)

        // The agent's session id is taken from its stream (every CLI reports it in its first line) and stored, so the
        // next turn resumes it; no separate `create-chat` round trip is needed.
        let before: [String: String]
        if let known = baseline ?? workspaceListings[sandbox.id] { before = known } else { before = try await snapshot(sandbox.id).checksums }
        let prompt = validated.spec.prompt ?? ""
        let command = driver.turnCommand(prompt: prompt, model: validated.model, sessionId: job.agentSessionId,
                                         workspace: "/workspace")
        let execution = try await sandboxCall {
            try await sandboxes.exec(sandbox.id, ExecSpec(cmd: command, env: environment, workingDir: "/workspace"))
        }
        running[job.id, default: Running()].execution = execution
        if running[job.id]?.stopReason != nil { try? await sandboxes.terminate(execution) }
        try await stage(job.id, "agent_started", "\(driver.cli) started (model \(validated.model))")
        let timer = startTimer(job.id, execution)
        defer { timer.cancel() }

        var parser = driver.makeParser(secrets: secrets)
        var lines = LineSplitter()
        var stderr = BoundedText(limit: 64 << 10)
        // A warm sandbox's replacement is created once the agent's first event is out (or it has ended without one),
        // not while the agent starts.
        var poolRefilled = false
        defer { if !poolRefilled { Task { [sandboxes] in await sandboxes.refillPoolIfDue() } } }
        do {
            for try await chunk in execution.output {
                switch chunk {
                case .stdout(let bytes):
                    let recorded = try await record(job.id, lines: lines.feed(bytes), parser: &parser)
                    if !poolRefilled, recorded > 0 {
                        poolRefilled = true
                        await sandboxes.refillPoolIfDue()
                    }
                case .stderr(let bytes):
                    stderr.append(bytes)
                }
            }
            if let last = lines.finish() { try await record(job.id, lines: [last], parser: &parser) }
            // The agent has exited: a cancel from here on has nothing to kill (and must not kill the sandbox,
            // which is about to be paused for the next turn).
            running[job.id]?.execution = nil
        } catch let error as JobError {
            throw error
        } catch {
            throw JobError(.sandbox, "reading the agent's output failed: \(error)")
        }
        if let session = parser.sessionId, session != job.agentSessionId {
            job.agentSessionId = session
            try await storeCall { [job] in try await store.updateJob(job) }
        }
        if running[job.id]?.stopReason != nil { throw JobError(.sandbox, "stopped") }
        let exitCode = try await sandboxCall { try await sandboxes.exitCode(of: execution) }
        let failure = driver.failureReason(exitCode: exitCode, stderr: stderr.text, parser: parser)
        try await collectArtifacts(job.id, sandbox: sandbox.id, before: before)
        return failure.map { .failed($0, code: "AGENT_ERROR") } ?? .completed
    }

    /// Parses complete lines into events, stores them (one transaction) and hands them to followers; answers how
    /// many there were.
    @discardableResult
    private func record(_ id: String, lines: [String], parser: inout AgentStreamParser) async throws(JobError) -> Int {
        guard !lines.isEmpty else { return 0 }
        let now = Date()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var rows: [AgentEventRow] = []
        for line in lines {
            // One line can give several events; only the first keeps the raw line, so `?raw=true` lists it once.
            for (index, event) in parser.parse(line: line, receivedAt: now).enumerated() {
                let json = (try? encoder.encode(event)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                rows.append(AgentEventRow(ts: event.timestamp, type: event.type.rawValue, json: json, raw: index == 0 ? event.raw : ""))
            }
        }
        let stored = try await storeCall { [rows] in try await store.appendAgentEvents(jobId: id, rows) }
        await hub.publish(jobId: id, stored)
        await announce(id)
        return stored.count
    }

    private func startTimer(_ id: String, _ execution: SandboxManager.Execution) -> Task<Void, Never> {
        let timeout = configuration.jobTimeout
        return Task {
            do { try await Task.sleep(for: timeout) } catch { return }
            // Once it fires, the stop runs to its end even if the run ends meanwhile and cancels this timer.
            await Task { await self.timedOut(id, execution) }.value
        }
    }

    private func timedOut(_ id: String, _ execution: SandboxManager.Execution) async {
        guard running[id]?.execution != nil, running[id]?.stopReason == nil else { return }
        running[id]?.stopReason = .timedOut
        try? await sandboxes.terminate(execution)
        await awaitStop(id)
    }
}

/// Keeps the last `limit` bytes of a stream as text (the tail of stderr is where the reason is).
struct BoundedText {
    let limit: Int
    private var bytes: [UInt8] = []

    init(limit: Int) { self.limit = limit }

    mutating func append(_ more: [UInt8]) {
        bytes += more
        if bytes.count > limit { bytes.removeFirst(bytes.count - limit) }
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }
}

extension JobExecutor {
    /// Writes a job's final state, retrying while the store refuses (a full disk, a database restarting): a job that
    /// ran must not stay `running` in the store because its last write failed once. Stops only when the server does;
    /// restart recovery then ends the job. `background`: after a first refusal, the retries go on in a task of their
    /// own and this returns (restart recovery: a full disk must not keep the server from starting).
    func recordEnd(_ job: JobRecord, detail: String, level: StageEvent.Level, background: Bool = false,
                   stageWritten alreadyWritten: Bool = false) async {
        var stageWritten = alreadyWritten
        var delay = Duration.milliseconds(250)
        for attempt in 1... {
            do {
                // The stage first: whoever sees the final status also finds its stage event.
                if !stageWritten {
                    try await stage(job.id, job.status.rawValue, detail, level: level)
                    stageWritten = true
                }
                try await storeCall { try await store.updateJob(job) }
                if attempt > 1 || alreadyWritten {
                    logger.notice("recorded the end of a job after retrying", metadata: ["job": "\(job.id)", "attempts": "\(attempt)"])
                }
                return
            } catch {
                if attempt == 1 || attempt.isMultiple(of: 20) {
                    logger.error("could not record the end of a job; retrying", metadata: ["job": "\(job.id)", "error": "\(error)", "attempt": "\(attempt)"])
                }
                if background {
                    let written = stageWritten
                    Task {
                        guard (try? await Task.sleep(for: delay)) != nil else { return }
                        await self.recordEnd(job, detail: detail, level: level, stageWritten: written)
                    }
                    return
                }
                guard (try? await Task.sleep(for: delay)) != nil else { return }
                delay = min(delay * 2, .seconds(5))
            }
        }
    }
}
