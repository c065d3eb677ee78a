import Foundation
import Storage

/// OAuth2 client credentials for the Knaps API: a client trades its id and secret for a one-hour bearer token and a
/// refresh token. Only the tokens' hashes are stored; a refresh token is spent once (each refresh returns a new one).
public struct KnapAuth: Sendable {
    /// What `POST /api/oauth/token` answers.
    public struct Grant: Encodable, Sendable, Equatable {
        public var accessToken: String
        public var tokenType = "Bearer"
        public var expiresIn: Int
        public var refreshToken: String
        public var scope: String

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token", tokenType = "token_type", expiresIn = "expires_in"
            case refreshToken = "refresh_token", scope
        }
    }

    public static let scope = "knaps:read knaps:write knaps:run"
    static let accessPrefix = "knat_"
    static let refreshPrefix = "knrt_"

    let store: any Store
    public let accessLifetime: Duration
    public let refreshLifetime: Duration
    let now: @Sendable () -> Date

    public init(store: any Store, accessLifetime: Duration = .seconds(3600), refreshLifetime: Duration = .seconds(30 * 86_400),
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.accessLifetime = accessLifetime
        self.refreshLifetime = refreshLifetime
        self.now = now
    }

    /// `grant_type=client_credentials`.
    public func grant(clientId: String, secret: String) async throws(KnapError) -> Grant {
        guard let client = try await storeCall({ try await store.client(id: clientId) }), !client.isRevoked,
              APIKeys.hash(secret) == client.secretHash else {
            throw KnapError(.unauthorized, "invalid client credentials")
        }
        return try await issue(for: client.id)
    }

    /// `grant_type=refresh_token`: the old refresh token is spent, whether or not `clientId` was sent.
    public func refresh(token: String, clientId: String?) async throws(KnapError) -> Grant {
        let hash = APIKeys.hash(token)
        guard token.hasPrefix(Self.refreshPrefix),
              let record = try await storeCall({ try await store.token(hash: hash) }), record.kind == .refresh,
              record.isValid(at: now()), clientId == nil || clientId == record.clientId,
              let client = try await storeCall({ try await store.client(id: record.clientId) }), !client.isRevoked,
              try await storeCall({ try await store.revokeToken(hash: hash, at: now()) }) else {
            throw KnapError(.unauthorized, "invalid, expired or already used refresh token")
        }
        return try await issue(for: client.id)
    }

    /// The caller behind a bearer token; 401 for anything but a live access token of a live client.
    public func caller(token: String) async throws(KnapError) -> KnapCaller {
        guard token.hasPrefix(Self.accessPrefix) else {
            throw KnapError(.unauthorized, "malformed access token: get one from POST /api/oauth/token")
        }
        guard let record = try await storeCall({ try await store.token(hash: APIKeys.hash(token)) }), record.kind == .access else {
            throw KnapError(.unauthorized, "unknown access token")
        }
        guard record.revokedAt == nil else { throw KnapError(.unauthorized, "revoked access token") }
        guard record.isValid(at: now()) else { throw KnapError(.unauthorized, "expired access token: request a new one") }
        guard let client = try await storeCall({ try await store.client(id: record.clientId) }), !client.isRevoked else {
            throw KnapError(.unauthorized, "the client of this token has been revoked")
        }
        return KnapCaller(client: client)
    }

    /// Revokes an access or refresh token (RFC 7009: unknown tokens are not an error).
    public func revoke(token: String) async throws(KnapError) {
        _ = try await storeCall { try await store.revokeToken(hash: APIKeys.hash(token), at: now()) }
    }

    private func issue(for clientId: String) async throws(KnapError) -> Grant {
        let issuedAt = now()
        let access = Self.accessPrefix + RandomID.base62(40)
        let refresh = Self.refreshPrefix + RandomID.base62(40)
        let accessRecord = OAuthTokenRecord(hash: APIKeys.hash(access), clientId: clientId, kind: .access, createdAt: issuedAt,
                                            expiresAt: issuedAt.addingTimeInterval(Self.seconds(accessLifetime)))
        let refreshRecord = OAuthTokenRecord(hash: APIKeys.hash(refresh), clientId: clientId, kind: .refresh, createdAt: issuedAt,
                                             expiresAt: issuedAt.addingTimeInterval(Self.seconds(refreshLifetime)))
        try await storeCall {
            try await store.insertToken(accessRecord)
            try await store.insertToken(refreshRecord)
        }
        return Grant(accessToken: access, expiresIn: Int(Self.seconds(accessLifetime)), refreshToken: refresh, scope: Self.scope)
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        TimeInterval(duration.components.seconds) + TimeInterval(duration.components.attoseconds) / 1e18
    }
}
