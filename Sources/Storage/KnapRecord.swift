import Foundation

/// A knap (a Knaps API workflow) as stored. `toolMetadata` and `scheduleInfo` are kept as the JSON the Knaps layer
/// wrote: Storage only needs the columns it selects by.
public struct KnapRecord: Codable, Sendable, Equatable {
    public var uuid: String
    public var name: String
    public var creationUserId: String
    /// The owner's organisation at creation: an org-visible knap belongs to it, and its admins may change it.
    public var ownerOrg: String?
    /// `manual`, `scheduled` or `post_meeting_transcription`.
    public var scheduleType: String
    public var isActive: Bool
    /// `private`, `public` or an organisation's name. Never changes.
    public var visibility: String
    public var canToggleDefaultActive: Bool
    public var activeByDefault: Bool
    public var toolMetadata: String
    public var scheduleInfo: String?
    public var nextRunAt: Date?
    /// The Knify job type a run becomes.
    public var agent: String
    public var model: String?
    /// IANA name the schedule's local times are in.
    public var timezone: String
    public var creationTimestamp: Date
    public var updatedAt: Date

    public init(uuid: String, name: String, creationUserId: String, ownerOrg: String?, scheduleType: String,
                isActive: Bool, visibility: String, canToggleDefaultActive: Bool, activeByDefault: Bool,
                toolMetadata: String, scheduleInfo: String?, nextRunAt: Date?, agent: String, model: String?,
                timezone: String, creationTimestamp: Date, updatedAt: Date) {
        self.uuid = uuid
        self.name = name
        self.creationUserId = creationUserId
        self.ownerOrg = ownerOrg
        self.scheduleType = scheduleType
        self.isActive = isActive
        self.visibility = visibility
        self.canToggleDefaultActive = canToggleDefaultActive
        self.activeByDefault = activeByDefault
        self.toolMetadata = toolMetadata
        self.scheduleInfo = scheduleInfo
        self.nextRunAt = nextRunAt
        self.agent = agent
        self.model = model
        self.timezone = timezone
        self.creationTimestamp = creationTimestamp
        self.updatedAt = updatedAt
    }
}

/// One run of a knap (or an ad-hoc run): a Knify job, tied to its chat. The job id is chosen before the job is
/// submitted, so a run recorded by a server that died before submitting can be submitted later exactly once.
public struct KnapRunRecord: Codable, Sendable, Equatable {
    public var id: String
    /// Nil for an ad-hoc run of messages without a knap.
    public var knapUUID: String?
    public var chatId: String
    public var jobId: String
    public var userId: String
    /// `api`, `schedule` or `meeting`.
    public var trigger: String
    /// The scheduled slot this run is for; unique per knap, which is what makes a slot fire once.
    public var slotAt: Date?
    /// What a reader should know: slots missed while the server was down, the meeting that triggered it.
    public var note: String?
    /// The job spec to submit, as the Jobs layer encodes it (kept for a late submission).
    public var specJSON: String
    public var createdAt: Date

    public init(id: String, knapUUID: String?, chatId: String, jobId: String, userId: String, trigger: String,
                slotAt: Date? = nil, note: String? = nil, specJSON: String, createdAt: Date = Date()) {
        self.id = id
        self.knapUUID = knapUUID
        self.chatId = chatId
        self.jobId = jobId
        self.userId = userId
        self.trigger = trigger
        self.slotAt = slotAt
        self.note = note
        self.specJSON = specJSON
        self.createdAt = createdAt
    }
}

/// A run with its job's status, as the runs list shows it (nil status: the job is not recorded yet).
public struct KnapRunStatus: Sendable, Equatable {
    public var run: KnapRunRecord
    public var status: String?
    public var completedAt: Date?
    public var error: String?

    public init(run: KnapRunRecord, status: String?, completedAt: Date?, error: String?) {
        self.run = run
        self.status = status
        self.completedAt = completedAt
        self.error = error
    }
}

/// An OAuth access or refresh token, stored only as its SHA-256 (tokens are random, so an unsalted hash is enough).
public struct OAuthTokenRecord: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case access, refresh }

    public var hash: String
    public var clientId: String
    public var kind: Kind
    public var createdAt: Date
    public var expiresAt: Date
    public var revokedAt: Date?

    public init(hash: String, clientId: String, kind: Kind, createdAt: Date, expiresAt: Date, revokedAt: Date? = nil) {
        self.hash = hash
        self.clientId = clientId
        self.kind = kind
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }

    public func isValid(at now: Date) -> Bool { revokedAt == nil && now < expiresAt }
}
