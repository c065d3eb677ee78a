import Foundation

/// A job as stored. The spec and metadata are kept as the JSON the Jobs layer encoded: Storage does not interpret
/// them, so it never needs to change when a job type gains a field.
public struct JobRecord: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable, CaseIterable {
        case pending, running, completed, failed, cancelled

        public var isFinal: Bool { self == .completed || self == .failed || self == .cancelled }
    }

    public var id: String
    /// The workspace (tenant) of the API key that submitted it.
    public var tenant: String
    public var jobType: String
    public var status: Status
    public var specJSON: String
    /// `metadata.user_id`, kept apart so `user_exam` can select by it.
    public var userId: String?
    public var parentJobId: String?
    public var sandboxId: String?
    /// The agent CLI's own session id (`cursor_session_id` in the API).
    public var agentSessionId: String?
    public var node: String?
    public var createdAt: Date
    public var startedAt: Date?
    public var completedAt: Date?
    public var error: String?
    /// The API error code that goes with `error` (`SANDBOX_ERROR`, …).
    public var errorCode: String?

    public init(id: String, tenant: String, jobType: String, status: Status = .pending, specJSON: String,
                userId: String? = nil, parentJobId: String? = nil, createdAt: Date = Date()) {
        self.id = id
        self.tenant = tenant
        self.jobType = jobType
        self.status = status
        self.specJSON = specJSON
        self.userId = userId
        self.parentJobId = parentJobId
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, tenant, status, node, error
        case jobType = "job_type", specJSON = "spec_json", userId = "user_id", parentJobId = "parent_job_id"
        case sandboxId = "sandbox_id", agentSessionId = "agent_session_id", createdAt = "created_at"
        case startedAt = "started_at", completedAt = "completed_at", errorCode = "error_code"
    }
}

/// One step of a job's life (`queued`, `sandbox_created`, `agent_started`, …) as the API's `events` list shows it.
public struct StageEvent: Codable, Sendable, Equatable {
    public enum Level: String, Codable, Sendable { case info, warning, error }

    public var sequence: Int
    public var ts: Date
    public var stage: String
    public var level: Level
    public var detail: String

    public init(sequence: Int = 0, ts: Date = Date(), stage: String, level: Level = .info, detail: String) {
        self.sequence = sequence
        self.ts = ts
        self.stage = stage
        self.level = level
        self.detail = detail
    }
}

/// One agent event: the normalized JSON the API serves and the CLI's raw line, numbered per job from 1 so a
/// stream can resume after any sequence (SSE `Last-Event-ID`).
public struct AgentEventRow: Codable, Sendable, Equatable {
    public var sequence: Int
    public var ts: Date
    public var type: String
    public var json: String
    public var raw: String

    public init(sequence: Int = 0, ts: Date, type: String, json: String, raw: String) {
        self.sequence = sequence
        self.ts = ts
        self.type = type
        self.json = json
        self.raw = raw
    }
}

/// A file a job produced. Small contents live in the store; large ones in a file under the data directory.
public struct ArtifactRecord: Codable, Sendable, Equatable {
    public var path: String
    public var size: Int64
    /// `text`, `json` or `binary`: how the API renders it.
    public var kind: String
    public var content: Data?
    /// Where a large artifact's bytes are, relative to the data directory.
    public var storedAt: String?

    public init(path: String, size: Int64, kind: String, content: Data? = nil, storedAt: String? = nil) {
        self.path = path
        self.size = size
        self.kind = kind
        self.content = content
        self.storedAt = storedAt
    }
}

/// Filters for listing jobs, newest first.
public struct JobQuery: Sendable, Equatable {
    /// Nil: every tenant (admin).
    public var tenant: String?
    public var status: JobRecord.Status?
    public var jobType: String?
    public var userId: String?
    public var createdFrom: Date?
    public var createdTo: Date?
    public var limit: Int
    public var offset: Int

    public init(tenant: String? = nil, status: JobRecord.Status? = nil, jobType: String? = nil, userId: String? = nil,
                createdFrom: Date? = nil, createdTo: Date? = nil, limit: Int = 20, offset: Int = 0) {
        self.tenant = tenant
        self.status = status
        self.jobType = jobType
        self.userId = userId
        self.createdFrom = createdFrom
        self.createdTo = createdTo
        self.limit = limit
        self.offset = offset
    }
}

/// A job and what its detail view shows beside it.
public struct JobDetail: Sendable, Equatable {
    public var job: JobRecord
    public var stages: [StageEvent]
    public var artifactPaths: [String]
    /// Nil while the job has no sandbox.
    public var sandboxState: SandboxRecord.State?

    public init(job: JobRecord, stages: [StageEvent], artifactPaths: [String], sandboxState: SandboxRecord.State?) {
        self.job = job
        self.stages = stages
        self.artifactPaths = artifactPaths
        self.sandboxState = sandboxState
    }
}
