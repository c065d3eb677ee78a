import Foundation

/// A Knaps API client (OAuth client credentials), as stored: the secret only as its SHA-256. It acts for one user,
/// optionally within an organisation, where it may be an admin (Knaps' visibility and ownership rules need both).
public struct ClientRecord: Codable, Sendable, Equatable {
    /// `knc_…`: public, sent as `client_id`.
    public var id: String
    public var name: String
    public var secretHash: String
    public var userId: String
    public var org: String?
    public var orgAdmin: Bool
    public var createdAt: Date
    public var revokedAt: Date?

    public var isRevoked: Bool { revokedAt != nil }

    /// A new client and its secret (shown once).
    public static func make(name: String, userId: String, org: String?, orgAdmin: Bool) -> (secret: String, record: ClientRecord) {
        let secret = "kncs_" + RandomID.base62(40)
        return (secret, ClientRecord(id: "knc_" + RandomID.base62(20), name: name, secretHash: APIKeys.hash(secret),
                                     userId: userId, org: org, orgAdmin: orgAdmin, createdAt: Date()))
    }
}
