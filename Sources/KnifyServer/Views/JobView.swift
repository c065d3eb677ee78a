import Agents
import Foundation
import Hummingbird
import Jobs
import Storage
import Synchronization

/// A job as the API shows it (list items, `GET /jobs/{id}`, cancel). Absent values are `null`, not missing, so
/// clients see one shape.
struct JobView: Encodable {
    var job: JobRecord
    var sandboxState: String?
    /// Only on `GET /jobs/{id}`.
    var events: [StageView]?
    var artifactFiles: [String]?

    enum CodingKeys: String, CodingKey {
        case id, spec, status, error, events, artifacts
        case createdAt = "created_at", startedAt = "started_at", completedAt = "completed_at"
        case sandboxId = "sandbox_id", sandboxState = "sandbox_state", cursorSessionId = "cursor_session_id"
        case parentJobId = "parent_job_id", errorCode = "error_code"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(job.id, forKey: .id)
        try container.encode(JSONValue.parse(job.specJSON) ?? .object([:]), forKey: .spec)
        try container.encode(job.status.rawValue, forKey: .status)
        try container.encode(ISO8601.string(job.createdAt), forKey: .createdAt)
        try container.encode(job.startedAt.map(ISO8601.string), forKey: .startedAt)
        try container.encode(job.completedAt.map(ISO8601.string), forKey: .completedAt)
        try container.encode(job.sandboxId, forKey: .sandboxId)
        try container.encode(sandboxState, forKey: .sandboxState)
        try container.encode(job.agentSessionId, forKey: .cursorSessionId)
        try container.encode(job.parentJobId, forKey: .parentJobId)
        if let events { try container.encode(events, forKey: .events) }
        if let artifactFiles { try container.encode(["files": artifactFiles], forKey: .artifacts) }
        try container.encode(job.error, forKey: .error)
        try container.encode(job.errorCode, forKey: .errorCode)
    }
}

struct StageView: Encodable {
    var ts: String
    var stage: String
    var level: String
    var detail: String

    init(_ event: StageEvent) {
        ts = ISO8601.string(event.ts)
        stage = event.stage
        level = event.level.rawValue
        detail = event.detail
    }
}

/// Any `Encodable` as a JSON reply (UTF-8, `application/json`).
struct JSONReply<Value: Encodable>: ResponseGenerator {
    var value: Value
    var status: HTTPResponse.Status = .ok

    init(_ value: Value, status: HTTPResponse.Status = .ok) {
        self.value = value
        self.status = status
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        .json(try Self.encode(value), status: status)
    }

    static func encode(_ value: Value) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}

/// `GET /jobs/{id}` replies rendered once per version of a job: a job polled while it is unchanged (the usual
/// client loop) costs a comparison of what the store answered with what was rendered, not a JSON encoding (which
/// was 28 % of the server's CPU under wrk).
final class RenderedJobs: Sendable {
    private struct Entry {
        var detail: JobDetail
        var body: ByteBuffer
    }

    static let capacity = 4_096
    private let entries = Mutex<[String: Entry]>([:])

    func body(for detail: JobDetail) throws -> ByteBuffer {
        if let hit = entries.withLock({ $0[detail.job.id] }), hit.detail == detail { return hit.body }
        let view = JobView(job: detail.job, sandboxState: detail.sandboxState?.apiName,
                           events: detail.stages.map(StageView.init), artifactFiles: detail.artifactPaths)
        let body = ByteBuffer(data: try JSONReply.encode(view))
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[detail.job.id] = Entry(detail: detail, body: body)
        }
        return body
    }
}

extension Response {
    /// A reply whose body is JSON text already.
    static func json(_ data: Data, status: HTTPResponse.Status = .ok) -> Response {
        json(ByteBuffer(bytes: data), status: status)
    }

    static func json(_ body: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: body))
    }
}
