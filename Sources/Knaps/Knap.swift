import Agents
import Foundation
import Jobs
import Storage

/// A knap as the Knaps layer works with it: the stored record with its JSON parts decoded.
public struct Knap: Sendable, Equatable {
    public enum ScheduleType: String, Sendable, CaseIterable {
        case manual
        case scheduled
        case postMeetingTranscription = "post_meeting_transcription"
    }

    public enum Visibility {
        public static let `private` = "private"
        public static let `public` = "public"
    }

    /// The job types a run may be: the agents (`user_exam` is a report, not a conversation).
    public static let agents = JobType.all.filter { $0 != JobType.userExam }

    public var record: KnapRecord
    /// Kept whole, unknown keys included: Knapsack clients put their own things there.
    public var toolMetadata: [String: JSONValue]
    public var scheduleInfo: ScheduleInfo?

    public init(record: KnapRecord) {
        self.record = record
        toolMetadata = JSONValue.parse(record.toolMetadata)?.objectValue ?? [:]
        scheduleInfo = record.scheduleInfo.flatMap { try? JSONDecoder().decode(ScheduleInfo.self, from: Data($0.utf8)) }
    }

    public var actionDescription: String? { toolMetadata["action_description"]?.stringValue }
    public var scheduleDescription: String? { toolMetadata["schedule_description"]?.stringValue }
    /// `tool_metadata.tool_types`: the tools the knap's agent is told it may use.
    public var toolTypes: [String] { toolMetadata["tool_types"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
    public var timeZone: TimeZone { TimeZone(identifier: record.timezone) ?? .gmt }
}

/// The body of a create or an update: every field optional here; `KnapService` decides what a create requires and
/// what an update may change. Field types are checked by the decoder, so `"is_active": "yes"` is a clear 400.
public struct KnapInput: Decodable, Sendable, Equatable {
    public var name: String?
    public var scheduleType: String?
    public var isActive: Bool?
    public var visibility: String?
    public var canToggleDefaultActive: Bool?
    public var activeByDefault: Bool?
    public var toolMetadata: [String: JSONValue]?
    public var agent: String?
    public var model: String?
    public var timezone: String?

    enum CodingKeys: String, CodingKey {
        case name, visibility, agent, model, timezone
        case scheduleType = "schedule_type", isActive = "is_active"
        case canToggleDefaultActive = "can_toggle_default_active", activeByDefault = "active_by_default"
        case toolMetadata = "tool_metadata"
    }

    public init(name: String? = nil, scheduleType: String? = nil, isActive: Bool? = nil, visibility: String? = nil,
                canToggleDefaultActive: Bool? = nil, activeByDefault: Bool? = nil, toolMetadata: [String: JSONValue]? = nil,
                agent: String? = nil, model: String? = nil, timezone: String? = nil) {
        self.name = name
        self.scheduleType = scheduleType
        self.isActive = isActive
        self.visibility = visibility
        self.canToggleDefaultActive = canToggleDefaultActive
        self.activeByDefault = activeByDefault
        self.toolMetadata = toolMetadata
        self.agent = agent
        self.model = model
        self.timezone = timezone
    }
}

/// The caller's view of every knap it can see, as `GET /api/studio/knap-tools` lists it.
public struct KnapListing: Sendable {
    public var mine: [Knap]
    /// Knaps of the caller's organisation by other members (one group: a client belongs to one org).
    public var organization: [(org: String, knaps: [Knap])]
    public var `public`: [Knap]
}
