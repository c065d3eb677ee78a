import Foundation
import Jobs
import SandboxPolicy
import Storage

/// A sandbox as `GET /sandboxes` shows it: the store's record (what `knify-sandbox ls` lists) plus its policy's
/// idle TTL and maximum lifetime, so a reader can tell how long a paused sandbox has left. Absent values are `null`.
struct SandboxView: Encodable {
    var record: SandboxRecord
    var idleTTL: Int?
    var maxLifetime: Int?
    var now: Date

    init(_ record: SandboxRecord, policy: Policy?, now: Date) {
        self.record = record
        idleTTL = policy?.idleTTL
        maxLifetime = policy?.maxLifetime
        self.now = now
    }

    enum CodingKeys: String, CodingKey {
        case id, state, policy, node, pooled
        case jobId = "job_id", sessionId = "session_id", createdAt = "created_at", lastUsedAt = "last_used_at"
        case ageSeconds = "age_seconds", idleSeconds = "idle_seconds", keepAliveUntil = "keep_alive_until"
        case idleTTLSeconds = "idle_ttl_seconds", maxLifetimeSeconds = "max_lifetime_seconds"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(record.id, forKey: .id)
        try container.encode(record.jobId, forKey: .jobId)
        try container.encode(record.sessionId, forKey: .sessionId)
        try container.encode(record.state.rawValue, forKey: .state)
        try container.encode(record.policy, forKey: .policy)
        try container.encode(record.node, forKey: .node)
        try container.encode(record.pooled, forKey: .pooled)
        try container.encode(ISO8601.string(record.createdAt), forKey: .createdAt)
        try container.encode(ISO8601.string(record.lastUsedAt), forKey: .lastUsedAt)
        try container.encode(max(0, Int(now.timeIntervalSince(record.createdAt))), forKey: .ageSeconds)
        try container.encode(max(0, Int(now.timeIntervalSince(record.lastUsedAt))), forKey: .idleSeconds)
        try container.encode(record.keepAliveUntil.map(ISO8601.string), forKey: .keepAliveUntil)
        try container.encode(idleTTL, forKey: .idleTTLSeconds)
        try container.encode(maxLifetime, forKey: .maxLifetimeSeconds)
    }
}
