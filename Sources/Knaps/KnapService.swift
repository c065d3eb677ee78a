import Agents
import Foundation
import Jobs
import Storage

/// Knap CRUD with Knapsack's rules: who sees what (private, public, an organisation), who may change it (the owner
/// or an admin of its organisation), visibility fixed at creation, and a schedule parsed from plain English.
public struct KnapService: Sendable {
    let store: any Store
    let jobs: JobExecutor
    let now: @Sendable () -> Date

    public init(store: any Store, jobs: JobExecutor, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.jobs = jobs
        self.now = now
    }

    public func create(_ input: KnapInput, by caller: KnapCaller) async throws(KnapError) -> Knap {
        guard let name = input.name else { throw KnapError(.invalid, "name is required") }
        let metadata = input.toolMetadata ?? [:]
        let metadataJSON = try Self.checkMetadata(metadata)
        guard metadata["action_description"]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty == false else {
            throw KnapError(.invalid, "tool_metadata.action_description is required: say what the knap should do")
        }
        let visibility = input.visibility ?? Knap.Visibility.private
        try checkVisibility(visibility, for: caller)
        let created = now()
        var record = KnapRecord(
            uuid: UUID().uuidString.lowercased(), name: "", creationUserId: caller.userId, ownerOrg: caller.org,
            // A schedule description without a type means a scheduled knap; anything else starts manual.
            scheduleType: input.scheduleType ?? (metadata["schedule_description"] != nil ? Knap.ScheduleType.scheduled.rawValue
                                                                                   : Knap.ScheduleType.manual.rawValue),
            isActive: input.isActive ?? true, visibility: visibility,
            canToggleDefaultActive: input.canToggleDefaultActive ?? false, activeByDefault: input.activeByDefault ?? false,
            toolMetadata: "{}", scheduleInfo: nil, nextRunAt: nil, agent: input.agent ?? "cursor_task", model: input.model,
            timezone: input.timezone ?? "UTC", creationTimestamp: created, updatedAt: created)
        record.name = try Self.checkName(name)
        record.toolMetadata = metadataJSON
        try checkSettings(record)
        try Self.schedule(&record, now: created)
        try await storeCall { try await store.insertKnap(record) }
        return Knap(record: record)
    }

    /// A partial update: only the fields sent change; `tool_metadata` is merged key by key (a `null` removes a key).
    public func update(_ uuid: String, _ input: KnapInput, by caller: KnapCaller) async throws(KnapError) -> Knap {
        var record = try await changeable(uuid, by: caller)
        if let visibility = input.visibility, visibility != record.visibility {
            throw KnapError(.invalid, "visibility cannot change after creation (it is \(record.visibility)); create a new knap instead")
        }
        let before = record
        if let name = input.name { record.name = try Self.checkName(name) }
        if let type = input.scheduleType { record.scheduleType = type }
        if let active = input.isActive { record.isActive = active }
        if let value = input.canToggleDefaultActive { record.canToggleDefaultActive = value }
        if let value = input.activeByDefault { record.activeByDefault = value }
        if let agent = input.agent { record.agent = agent }
        if let model = input.model { record.model = model }
        if let timezone = input.timezone { record.timezone = timezone }
        if let changes = input.toolMetadata {
            var metadata = Knap(record: record).toolMetadata
            for (key, value) in changes {
                if value.isNull { metadata.removeValue(forKey: key) } else { metadata[key] = value }
            }
            guard metadata["action_description"]?.stringValue?.isEmpty == false else {
                throw KnapError(.invalid, "tool_metadata.action_description cannot be removed")
            }
            record.toolMetadata = try Self.checkMetadata(metadata)
        }
        try checkSettings(record)
        let scheduleChanged = record.scheduleType != before.scheduleType || record.isActive != before.isActive
            || record.timezone != before.timezone || Knap(record: record).scheduleDescription != Knap(record: before).scheduleDescription
        record.updatedAt = now()
        // An unrelated edit keeps the pending slot; a new schedule counts from now.
        if scheduleChanged { try Self.schedule(&record, now: record.updatedAt) }
        try await storeCall { try await store.updateKnap(record) }
        return Knap(record: record)
    }

    public func delete(_ uuid: String, by caller: KnapCaller) async throws(KnapError) {
        let record = try await changeable(uuid, by: caller)
        try await storeCall { try await store.deleteKnap(uuid: record.uuid) }
    }

    public func get(_ uuid: String, for caller: KnapCaller) async throws(KnapError) -> Knap {
        Knap(record: try await visible(uuid, to: caller))
    }

    /// Own knaps first; then the organisation's and the public ones by others.
    public func list(for caller: KnapCaller) async throws(KnapError) -> KnapListing {
        let all = try await storeCall { try await store.knaps(visibleTo: caller.userId, org: caller.org) }.map(Knap.init(record:))
        let mine = all.filter { $0.record.creationUserId == caller.userId }
        let others = all.filter { $0.record.creationUserId != caller.userId }
        let organization = caller.org.map { org in others.filter { $0.record.visibility == org } } ?? []
        return KnapListing(mine: mine, organization: caller.org.map { [(org: $0, knaps: organization)] } ?? [],
                           public: others.filter { $0.record.visibility == Knap.Visibility.public })
    }

    /// 404 for a knap the caller cannot see, so private knaps are not revealed by their uuid.
    func visible(_ uuid: String, to caller: KnapCaller) async throws(KnapError) -> KnapRecord {
        guard let record = try await storeCall({ try await store.knap(uuid: uuid.lowercased()) }), caller.canSee(record) else {
            throw KnapError(.notFound, "no knap \(uuid)")
        }
        return record
    }

    private func changeable(_ uuid: String, by caller: KnapCaller) async throws(KnapError) -> KnapRecord {
        let record = try await visible(uuid, to: caller)
        guard caller.canChange(record) else {
            throw KnapError(.forbidden, "only the knap's owner or an admin of its organisation may change it")
        }
        return record
    }

    // MARK: - Rules

    private func checkVisibility(_ visibility: String, for caller: KnapCaller) throws(KnapError) {
        guard visibility != Knap.Visibility.private, visibility != Knap.Visibility.public, visibility != caller.org else { return }
        let allowed = ["private", "public"] + (caller.org.map { [$0] } ?? [])
        throw KnapError(.invalid, "visibility must be one of \(allowed.joined(separator: ", ")) (an organisation's name is allowed only for its members)")
    }

    private static func checkName(_ name: String) throws(KnapError) -> String {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 200 else { throw KnapError(.invalid, "name must be 1 to 200 characters") }
        return trimmed
    }

    private static func checkMetadata(_ metadata: [String: JSONValue]) throws(KnapError) -> String {
        for key in ["action_description", "schedule_description"] {
            if let value = metadata[key], value.stringValue == nil { throw KnapError(.invalid, "tool_metadata.\(key) must be a string") }
        }
        if let tools = metadata["tool_types"], tools.arrayValue?.allSatisfy({ $0.stringValue != nil }) != true {
            throw KnapError(.invalid, "tool_metadata.tool_types must be an array of strings")
        }
        let text = JSONValue.object(metadata).jsonString()
        guard text.utf8.count <= 64 << 10 else { throw KnapError(.invalid, "tool_metadata is larger than 64 KiB") }
        return text
    }

    private func checkSettings(_ record: KnapRecord) throws(KnapError) {
        guard Knap.ScheduleType(rawValue: record.scheduleType) != nil else {
            throw KnapError(.invalid, "schedule_type must be one of \(Knap.ScheduleType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard TimeZone(identifier: record.timezone) != nil else {
            throw KnapError(.invalid, "timezone must be an IANA time zone name such as UTC, Europe/Berlin or America/New_York")
        }
        guard Knap.agents.contains(record.agent) else {
            throw KnapError(.invalid, "agent must be one of \(Knap.agents.joined(separator: ", "))")
        }
        do {
            try jobs.check(JobSpec(jobType: record.agent, prompt: "check", model: record.model))
        } catch {
            throw KnapError(.invalid, error.message)
        }
    }

    /// Parses the description of a scheduled knap into `schedule_info` and its next slot; nothing is guessed, and an
    /// inactive knap keeps its schedule but has no next run.
    static func schedule(_ record: inout KnapRecord, now: Date) throws(KnapError) {
        let knap = Knap(record: record)
        guard record.scheduleType == Knap.ScheduleType.scheduled.rawValue else {
            record.scheduleInfo = nil
            record.nextRunAt = nil
            return
        }
        guard let description = knap.scheduleDescription else {
            throw KnapError(.invalid, "a scheduled knap needs tool_metadata.schedule_description, e.g. \"every Monday at 9am\"")
        }
        let info: ScheduleInfo
        do {
            info = try ScheduleParser.parse(description).anchored(after: now, in: knap.timeZone)
        } catch {
            throw KnapError(.invalid, error.description)
        }
        record.scheduleInfo = String(decoding: (try? JSONEncoder().encode(info)) ?? Data("null".utf8), as: UTF8.self)
        record.nextRunAt = record.isActive ? info.nextRun(after: now, in: knap.timeZone) : nil
    }
}
