import Agents
import Crypto
import Foundation
import Jobs
import Logging
import Metrics
import Storage

/// Knap runs on top of Jobs: a run *is* a Knify job in a sandbox. The runner turns a knap and messages into a
/// prompt, records the run against its chat, submits the job, and translates the job's agent events into the
/// run's event stream.
public struct KnapRunner: Sendable {
    /// The Knify tenant knap runs are recorded under: admin API keys see them in `/jobs`, other keys do not.
    public static let tenant = "knaps"
    /// Every way a run starts (`trigger` of a run and of `knify_knap_runs_total`).
    public static let triggers = ["api", "schedule", "meeting"]

    /// `POST /api/knap-tools/run`'s body (less `stream_updates`, which is the edge's business).
    public struct Request: Decodable, Sendable, Equatable {
        public struct Message: Decodable, Sendable, Equatable {
            public var role: String
            public var content: String

            public init(role: String, content: String) {
                self.role = role
                self.content = content
            }
        }

        public var knapUUID: String?
        public var messages: [Message]
        public var chatId: String?
        /// Extra context for the agent: a string, or any JSON (rendered as JSON).
        public var context: JSONValue?
        /// Ad-hoc runs only (a knap brings its own).
        public var agent: String?
        public var model: String?

        enum CodingKeys: String, CodingKey {
            case knapUUID = "knap_uuid", messages, chatId = "chat_id", context, agent, model
        }

        public init(knapUUID: String? = nil, messages: [Message], chatId: String? = nil, context: JSONValue? = nil,
                    agent: String? = nil, model: String? = nil) {
            self.knapUUID = knapUUID
            self.messages = messages
            self.chatId = chatId
            self.context = context
            self.agent = agent
            self.model = model
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            knapUUID = try container.decodeIfPresent(String.self, forKey: .knapUUID)
            messages = try container.decodeIfPresent([Message].self, forKey: .messages) ?? []
            chatId = try container.decodeIfPresent(String.self, forKey: .chatId)
            context = try container.decodeIfPresent(JSONValue.self, forKey: .context)
            agent = try container.decodeIfPresent(String.self, forKey: .agent)
            model = try container.decodeIfPresent(String.self, forKey: .model)
        }
    }

    /// `POST /api/studio/knap-tools/events/meeting-transcription`'s body.
    public struct Meeting: Decodable, Sendable, Equatable {
        public var meetingId: String
        public var userId: String?
        public var title: String?
        public var transcript: String
        public var endedAt: String?

        enum CodingKeys: String, CodingKey {
            case meetingId = "meeting_id", userId = "user_id", title, transcript, endedAt = "ended_at"
        }

        public init(meetingId: String, userId: String? = nil, title: String? = nil, transcript: String, endedAt: String? = nil) {
            self.meetingId = meetingId
            self.userId = userId
            self.title = title
            self.transcript = transcript
            self.endedAt = endedAt
        }
    }

    let store: any Store
    let jobs: JobExecutor
    let logger: Logger

    public init(store: any Store, jobs: JobExecutor, logger: Logger = Logger(label: "knify.knaps")) {
        self.store = store
        self.jobs = jobs
        self.logger = logger
    }

    // MARK: - Starting runs

    /// Starts a run: of a knap the caller can see, or of the messages alone; with `chatId`, as the next turn of that
    /// chat in the same sandbox and agent session.
    public func start(_ request: Request, by caller: KnapCaller) async throws(KnapError) -> KnapRunRecord {
        let hasMessage = request.messages.contains { !$0.content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        if let chatId = request.chatId {
            guard hasMessage else { throw KnapError(.invalid, "messages must hold the next message of the chat") }
            return try await continueChat(chatId, request, by: caller)
        }
        var knap: Knap?
        if let uuid = request.knapUUID {
            guard let record = try await storeCall({ try await store.knap(uuid: uuid.lowercased()) }), caller.canSee(record) else {
                throw KnapError(.notFound, "no knap \(uuid)")
            }
            knap = Knap(record: record)
        } else if !hasMessage {
            throw KnapError(.invalid, "send knap_uuid, or messages with at least one non-empty message")
        } else if let agent = request.agent, !Knap.agents.contains(agent) {
            throw KnapError(.invalid, "agent must be one of \(Knap.agents.joined(separator: ", "))")
        }
        let spec = JobSpec(jobType: knap?.record.agent ?? request.agent ?? "cursor_task",
                           prompt: Self.prompt(knap: knap, messages: request.messages, context: request.context.map(Self.text)),
                           model: knap?.record.model ?? request.model)
        let run = try makeRun(knap: knap, spec: spec, userId: caller.userId, trigger: "api", chatId: nil)
        // Submitted first: a refused spec leaves no run behind, and an api run is never submitted late.
        _ = try await jobCall { try await jobs.submit(withMetadata(spec, run), tenant: Self.tenant, id: run.jobId) }
        try await storeCall { try await store.insertRun(run) }
        Self.count(run)
        logger.info("knap run started", metadata: ["run": .string(run.id), "job": .string(run.jobId), "knap": .string(run.knapUUID ?? "-")])
        return run
    }

    private func continueChat(_ chatId: String, _ request: Request, by caller: KnapCaller) async throws(KnapError) -> KnapRunRecord {
        guard let last = try await storeCall({ try await store.lastRun(chatId: chatId) }), last.userId == caller.userId else {
            throw KnapError(.notFound, "no chat \(chatId)")
        }
        if let uuid = request.knapUUID, uuid.lowercased() != last.knapUUID {
            throw KnapError(.invalid, "chat \(chatId) belongs to \(last.knapUUID.map { "knap \($0)" } ?? "no knap"), not knap \(uuid)")
        }
        let parent = try await jobCall { try await jobs.detail(last.jobId, tenant: nil) }.job
        let spec = JobSpec(jobType: parent.jobType, prompt: Self.prompt(knap: nil, messages: request.messages, context: request.context.map(Self.text)),
                           model: (try? JSONDecoder().decode(JobSpec.self, from: Data(parent.specJSON.utf8)))?.model)
        let job = try await jobCall { try await jobs.continueJob(parent.id, spec: spec, tenant: nil) }
        let run = KnapRunRecord(id: Self.runId(), knapUUID: last.knapUUID, chatId: chatId, jobId: job.id, userId: caller.userId,
                                trigger: "api", specJSON: Self.encode(spec))
        try await storeCall { try await store.insertRun(run) }
        Self.count(run)
        logger.info("knap chat continued", metadata: ["run": .string(run.id), "job": .string(job.id), "chat": .string(chatId)])
        return run
    }

    /// Starts a run of every active meeting-triggered knap the caller can see, with the transcript as context. A
    /// repeated event (a webhook retried) starts nothing new: the run id is derived from knap and meeting.
    public func meetingEnded(_ meeting: Meeting, by caller: KnapCaller) async throws(KnapError) -> [KnapRunRecord] {
        guard !meeting.meetingId.isEmpty, meeting.meetingId.count <= 200 else { throw KnapError(.invalid, "meeting_id must be 1 to 200 characters") }
        guard !meeting.transcript.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw KnapError(.invalid, "transcript must not be empty")
        }
        let knaps = try await storeCall { try await store.activeKnaps(scheduleType: Knap.ScheduleType.postMeetingTranscription.rawValue) }
            .filter(caller.canSee).map(Knap.init(record:))
        var context = "Meeting \"\(meeting.title ?? meeting.meetingId)\" (id \(meeting.meetingId)"
        if let endedAt = meeting.endedAt { context += ", ended \(endedAt)" }
        if let userId = meeting.userId { context += ", user \(userId)" }
        context += ") has ended. Its transcript:\n" + meeting.transcript
        var runs: [KnapRunRecord] = []
        for knap in knaps {
            let spec = JobSpec(jobType: knap.record.agent, prompt: Self.prompt(knap: knap, messages: [], context: context), model: knap.record.model)
            var run = try makeRun(knap: knap, spec: spec, userId: caller.userId, trigger: "meeting", chatId: nil)
            run.id = Self.runId(deriving: "\(knap.record.uuid)/\(meeting.meetingId)")
            run.note = "meeting \(meeting.meetingId)"
            if let existing = try await storeCall({ try await store.run(id: run.id) }) {
                runs.append(existing)
                continue
            }
            do {
                try await store.insertRun(run)
            } catch let error as StorageError where error.code == .conflict {
                if let existing = try await storeCall({ try await store.run(id: run.id) }) { runs.append(existing) }
                continue
            } catch {
                throw KnapError.store(error)
            }
            Self.count(run)
            try await submit(run)
            runs.append(run)
        }
        return runs
    }

    /// Submits a recorded run's job (idempotent: the job id was chosen with the run).
    func submit(_ run: KnapRunRecord) async throws(KnapError) {
        guard let spec = try? JSONDecoder().decode(JobSpec.self, from: Data(run.specJSON.utf8)) else {
            throw KnapError(.internalError, "run \(run.id) has an unreadable spec")
        }
        _ = try await jobCall { try await jobs.submit(withMetadata(spec, run), tenant: Self.tenant, id: run.jobId) }
        logger.info("knap run submitted", metadata: ["run": .string(run.id), "job": .string(run.jobId), "trigger": .string(run.trigger)])
    }

    /// A run of `knap` for its owner, not yet recorded or submitted (the scheduler claims it first).
    func makeRun(knap: Knap?, spec: JobSpec, userId: String, trigger: String, chatId: String?, slot: Date? = nil, note: String? = nil) throws(KnapError) -> KnapRunRecord {
        do {
            try jobs.check(spec)
        } catch {
            throw KnapError(job: error)
        }
        return KnapRunRecord(id: Self.runId(), knapUUID: knap?.record.uuid, chatId: chatId ?? "chat_" + RandomID.base62(16),
                             jobId: JobID.make(), userId: userId, trigger: trigger, slotAt: slot, note: note, specJSON: Self.encode(spec))
    }

    /// The job's metadata names its run, so `/jobs` readers and `user_exam` can tell knap runs apart.
    private func withMetadata(_ spec: JobSpec, _ run: KnapRunRecord) -> JobSpec {
        var spec = spec
        var fields: [String: JSONValue] = ["user_id": .string(run.userId), "run_id": .string(run.id),
                                           "chat_id": .string(run.chatId), "trigger": .string(run.trigger)]
        if let knap = run.knapUUID { fields["knap_uuid"] = .string(knap) }
        spec.metadata = .object(fields)
        return spec
    }

    // MARK: - Reading runs

    public func runs(of uuid: String, for caller: KnapCaller, limit: Int = 100) async throws(KnapError) -> [KnapRunStatus] {
        guard let record = try await storeCall({ try await store.knap(uuid: uuid.lowercased()) }), caller.canSee(record) else {
            throw KnapError(.notFound, "no knap \(uuid)")
        }
        return try await storeCall { try await store.runs(knapUUID: record.uuid, limit: limit) }
    }

    /// The run's events: `run_started`, then what the agent does, then `done` once its job has ended.
    public func events(of run: KnapRunRecord) async throws(KnapError) -> AsyncStream<KnapRunEvent> {
        let executor = jobs
        let items = try await jobCall { try await executor.follow(run.jobId, after: 0) }
        return AsyncStream { continuation in
            let pump = Task {
                continuation.yield(.runStarted(runId: run.id, chatId: run.chatId, jobId: run.jobId))
                var translator = EventTranslator()
                for await item in items {
                    switch item {
                    case .event(let row):
                        for event in translator.translate(row) { continuation.yield(event) }
                    case .done(let status):
                        if status != .completed {
                            let reason = (try? await executor.detail(run.jobId, tenant: nil))?.job.error ?? "the run \(status.rawValue)"
                            continuation.yield(.error(detail: reason))
                        }
                        continuation.yield(.done(status: status.rawValue, chatId: run.chatId, runId: run.id, jobId: run.jobId))
                    case .heartbeat:
                        continue
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in pump.cancel() }
        }
    }

    /// Waits for the run to end and answers it whole.
    public func summary(of run: KnapRunRecord) async throws(KnapError) -> KnapRunSummary {
        var summary = KnapRunSummary(runId: run.id, chatId: run.chatId, jobId: run.jobId, status: "running", messages: [],
                                     toolCalls: [], error: nil)
        var calls: [String: Int] = [:]
        for await event in try await events(of: run) {
            switch event {
            case .message(let content):
                summary.messages.append(content)
            case .toolExecution(let name, let id, let parameters):
                calls[id] = summary.toolCalls.count
                summary.toolCalls.append(.object(["tool_name": .string(name), "queryUuid": .string(id),
                                                  "parameters": parameters ?? .null, "result": .null, "status": "running"]))
            case .toolResult(let name, let id, let result, let status):
                let call: JSONValue = .object(["tool_name": .string(name), "queryUuid": .string(id),
                                               "parameters": calls[id].flatMap { summary.toolCalls[$0]["parameters"] } ?? .null,
                                               "result": result ?? .null, "status": status.map(JSONValue.string) ?? .null])
                if let index = calls[id] { summary.toolCalls[index] = call } else { summary.toolCalls.append(call) }
            case .error(let detail):
                summary.error = detail
            case .done(let status, _, _, _):
                summary.status = status
            case .runStarted:
                break
            }
        }
        return summary
    }

    // MARK: - Prompt

    /// The conversation first (so the agent's first line is the user's), then the knap's instructions, its tools and
    /// any context. A continued chat sends only the new messages: the agent session remembers the rest.
    static func prompt(knap: Knap?, messages: [Request.Message], context: String?) -> String {
        var parts: [String] = []
        let conversation = messages.filter { !$0.content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
            .map { $0.role == "user" ? $0.content : "[\($0.role)] \($0.content)" }
        if !conversation.isEmpty { parts.append(conversation.joined(separator: "\n\n")) }
        if let knap {
            var instructions = "Knap \"\(knap.record.name)\": \(knap.actionDescription ?? "")"
            if !knap.toolTypes.isEmpty { instructions += "\nTools you may use: " + knap.toolTypes.joined(separator: ", ") }
            parts.append(instructions)
        }
        if let context, !context.isEmpty { parts.append("Context:\n" + context) }
        return parts.joined(separator: "\n\n")
    }

    /// `knify_knap_runs_total{trigger}`, counted when a run is recorded (once, whoever submits its job).
    static func count(_ run: KnapRunRecord) {
        Counter(label: "knify_knap_runs_total", dimensions: [("trigger", run.trigger)]).increment()
    }

    static func text(_ value: JSONValue) -> String { value.stringValue ?? value.jsonString() }

    static func runId() -> String { "run_" + RandomID.base62(16) }

    /// A run id that is the same for the same trigger, so a repeated trigger finds the run it already started.
    static func runId(deriving key: String) -> String {
        "run_" + SHA256.hash(data: Data(key.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
    }

    static func encode(_ spec: JobSpec) -> String {
        String(decoding: (try? JSONEncoder().encode(spec)) ?? Data("{}".utf8), as: UTF8.self)
    }
}

/// Agent events (normalized, as `/jobs/{id}/cursor` shows them) → run events. Remembers tool names by call id,
/// because some CLIs name the tool only when it starts.
struct EventTranslator {
    private var toolNames: [String: String] = [:]
    private var anonymous = 0

    mutating func translate(_ row: AgentEventRow) -> [KnapRunEvent] {
        guard let event = try? JSONDecoder().decode(AgentEvent.self, from: Data(row.json.utf8)) else { return [] }
        switch event.type {
        case .agentMessage:
            guard let message = event.message, !message.isEmpty else { return [] }
            return [.message(content: message)]
        case .toolUse:
            let id = event.toolCallId ?? nextAnonymous()
            let name = event.tool ?? "tool"
            toolNames[id] = name
            return [.toolExecution(toolName: name, queryUuid: id, parameters: event.parameters)]
        case .toolResult:
            let id = event.toolCallId ?? "tool_\(anonymous)"
            return [.toolResult(toolName: event.tool ?? toolNames[id] ?? "tool", queryUuid: id,
                                result: event.output ?? event.message.map(JSONValue.string), status: event.status?.rawValue)]
        case .error:
            return [.error(detail: event.message ?? "the agent reported an error")]
        case .thinking, .result, .system:
            return []
        }
    }

    private mutating func nextAnonymous() -> String {
        anonymous += 1
        return "tool_\(anonymous)"
    }
}
