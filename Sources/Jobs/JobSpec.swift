import Agents
import Foundation

/// What a client asks for (`POST /jobs` `spec`), with the reference's field names on the wire.
public struct JobSpec: Codable, Sendable, Equatable {
    public var jobType: String
    public var prompt: String?
    public var model: String?
    public var workspacePath: String?
    public var sessionId: String?
    public var userId: String?
    public var timeRange: TimeRange?
    public var metadata: JSONValue?

    public struct TimeRange: Codable, Sendable, Equatable {
        public var from: Date
        public var to: Date

        public init(from: Date, to: Date) {
            self.from = from
            self.to = to
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            from = try Self.date(container, .from)
            to = try Self.date(container, .to)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(ISO8601.string(from), forKey: .from)
            try container.encode(ISO8601.string(to), forKey: .to)
        }

        enum CodingKeys: String, CodingKey { case from, to }

        private static func date(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Date {
            let text = try container.decode(String.self, forKey: key)
            guard let date = ISO8601.date(text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container,
                                                       debugDescription: "expected an ISO-8601 date such as 2025-11-17T10:00:00Z")
            }
            return date
        }
    }

    public init(jobType: String, prompt: String? = nil, model: String? = nil, workspacePath: String? = nil,
                sessionId: String? = nil, userId: String? = nil, timeRange: TimeRange? = nil, metadata: JSONValue? = nil) {
        self.jobType = jobType
        self.prompt = prompt
        self.model = model
        self.workspacePath = workspacePath
        self.sessionId = sessionId
        self.userId = userId
        self.timeRange = timeRange
        self.metadata = metadata
    }

    enum CodingKeys: String, CodingKey {
        case prompt, model, metadata
        case jobType = "job_type", workspacePath = "workspace_path", sessionId = "session_id", userId = "user_id"
        case timeRange = "time_range"
    }

    /// The user the job is about or for: `user_id` (user_exam) or `metadata.user_id`.
    public var subjectUserId: String? {
        if let userId { return userId }
        if case .object(let fields)? = metadata, case .string(let user)? = fields["user_id"] { return user }
        return nil
    }
}

public enum JobType {
    public static let userExam = "user_exam"
    public static var all: [String] { ["cursor_task", "claude_task", "gemini_task", userExam] }
}

/// ISO-8601 with or without fractional seconds, always written in UTC with `Z`. Format styles, not
/// `ISO8601DateFormatter`: they are values (safe to share) and far cheaper than making a formatter per call, which
/// every job rendered over HTTP would otherwise do several times.
public enum ISO8601 {
    private static let plain = Date.ISO8601FormatStyle()
    private static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    public static func date(_ text: String) -> Date? {
        (try? plain.parse(text)) ?? (try? fractional.parse(text))
    }

    public static func string(_ date: Date) -> String { plain.format(date) }
}
