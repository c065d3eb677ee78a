import Agents
import Foundation
import Jobs
import Knaps
import Storage

/// A knap as the Knaps API shows it: Knapsack's fields, then ours (`agent`, `model`, `timezone`). Absent values are
/// `null`, so every knap has one shape.
struct KnapView: Encodable {
    var knap: Knap

    enum CodingKeys: String, CodingKey {
        case uuid, name, visibility, agent, model, timezone
        case creationUserId = "creation_user_id", scheduleType = "schedule_type", isActive = "is_active"
        case canToggleDefaultActive = "can_toggle_default_active", activeByDefault = "active_by_default"
        case toolMetadata = "tool_metadata", creationTimestamp = "creation_timestamp", updatedAt = "updated_at"
        case scheduleInfo = "schedule_info", nextRunAt = "next_run_at"
    }

    func encode(to encoder: any Encoder) throws {
        let record = knap.record
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(record.uuid, forKey: .uuid)
        try container.encode(record.name, forKey: .name)
        try container.encode(record.creationUserId, forKey: .creationUserId)
        try container.encode(record.scheduleType, forKey: .scheduleType)
        try container.encode(record.isActive, forKey: .isActive)
        try container.encode(record.visibility, forKey: .visibility)
        try container.encode(record.canToggleDefaultActive, forKey: .canToggleDefaultActive)
        try container.encode(record.activeByDefault, forKey: .activeByDefault)
        try container.encode(JSONValue.object(knap.toolMetadata), forKey: .toolMetadata)
        try container.encode(ISO8601.string(record.creationTimestamp), forKey: .creationTimestamp)
        try container.encode(ISO8601.string(record.updatedAt), forKey: .updatedAt)
        try container.encode(knap.scheduleInfo, forKey: .scheduleInfo)
        try container.encode(record.nextRunAt.map(ISO8601.string), forKey: .nextRunAt)
        try container.encode(record.agent, forKey: .agent)
        try container.encode(record.model, forKey: .model)
        try container.encode(record.timezone, forKey: .timezone)
    }
}

/// `GET /api/studio/knap-tools`.
struct KnapListView: Encodable {
    struct OrganizationKnaps: Encodable {
        var orgName: String
        var knaps: [KnapView]
        enum CodingKeys: String, CodingKey { case orgName = "org_name", knaps }
    }

    var myKnaps: [KnapView]
    var organizationKnaps: [OrganizationKnaps]
    var publicKnaps: [KnapView]

    enum CodingKeys: String, CodingKey {
        case myKnaps = "my_knaps", organizationKnaps = "organization_knaps", publicKnaps = "public_knaps"
    }

    init(_ listing: KnapListing) {
        myKnaps = listing.mine.map(KnapView.init)
        organizationKnaps = listing.organization.map { OrganizationKnaps(orgName: $0.org, knaps: $0.knaps.map(KnapView.init)) }
        publicKnaps = listing.public.map(KnapView.init)
    }
}

/// A run in a knap's run list, or as a trigger's answer.
struct KnapRunView: Encodable {
    var run: KnapRunRecord
    var status: String?
    var completedAt: Date?
    var error: String?

    enum CodingKeys: String, CodingKey {
        case runId = "run_id", knapUUID = "knap_uuid", chatId = "chat_id", jobId = "job_id", status, trigger
        case slotAt = "slot_at", note, createdAt = "created_at", completedAt = "completed_at", error
    }

    init(_ row: KnapRunStatus) {
        run = row.run
        status = row.status
        completedAt = row.completedAt
        error = row.error
    }

    init(run: KnapRunRecord, status: String?) {
        self.run = run
        self.status = status
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(run.id, forKey: .runId)
        try container.encode(run.knapUUID, forKey: .knapUUID)
        try container.encode(run.chatId, forKey: .chatId)
        try container.encode(run.jobId, forKey: .jobId)
        // A run whose job is not recorded yet is about to be submitted.
        try container.encode(status ?? JobRecord.Status.pending.rawValue, forKey: .status)
        try container.encode(run.trigger, forKey: .trigger)
        try container.encode(run.slotAt.map(ISO8601.string), forKey: .slotAt)
        try container.encode(run.note, forKey: .note)
        try container.encode(ISO8601.string(run.createdAt), forKey: .createdAt)
        try container.encode(completedAt.map(ISO8601.string), forKey: .completedAt)
        try container.encode(error, forKey: .error)
    }
}
