import Crypto
import Foundation

/// A Knify API key as stored: never the key itself, only its SHA-256 and a short prefix to recognise it by.
/// Keys are 32 random base62 characters after their prefix, so a plain (unsalted) hash is enough: there is
/// nothing to guess from a dictionary.
public struct APIKeyRecord: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// `knify_live_Ab12` — enough to tell keys apart in a listing.
    public var prefix: String
    public var hash: String
    /// `jobs:read`, `jobs:write`, `admin`.
    public var scopes: [String]
    /// The workspace (tenant) whose jobs the key sees.
    public var tenant: String
    /// `free`, `pro` or `enterprise`.
    public var tier: String
    /// Requests per hour for `enterprise` keys; tiers set the others.
    public var rateLimitPerHour: Int?
    public var createdAt: Date
    public var revokedAt: Date?

    public var isRevoked: Bool { revokedAt != nil }

    public init(id: String, name: String, prefix: String, hash: String, scopes: [String], tenant: String,
                tier: String, rateLimitPerHour: Int? = nil, createdAt: Date = Date()) {
        self.id = id
        self.name = name
        self.prefix = prefix
        self.hash = hash
        self.scopes = scopes
        self.tenant = tenant
        self.tier = tier
        self.rateLimitPerHour = rateLimitPerHour
        self.createdAt = createdAt
    }
}

/// Making and checking keys.
public enum APIKeys {
    public enum Environment: String, Sendable { case live, test }

    /// A new key (shown once) and the record to store for it.
    public static func make(name: String, scopes: [String], tenant: String, tier: String, rateLimitPerHour: Int? = nil,
                            environment: Environment = .live) -> (key: String, record: APIKeyRecord) {
        let key = "knify_\(environment.rawValue)_" + RandomID.base62(32)
        let record = APIKeyRecord(id: "key_" + RandomID.base62(12), name: name, prefix: String(key.prefix(15)),
                                  hash: hash(key), scopes: scopes, tenant: tenant, tier: tier,
                                  rateLimitPerHour: rateLimitPerHour)
        return (key, record)
    }

    /// SHA-256, hex: what the store keeps and looks keys up by.
    public static func hash(_ key: String) -> String {
        SHA256.hash(data: Data(key.utf8)).hexEncoded
    }

    /// Whether a presented string has the shape of a Knify key (cheap rejection before a lookup).
    public static func looksLikeKey(_ text: String) -> Bool {
        // `^knify_(live|test)_[A-Za-z0-9]{32}$`, checked by hand: a regular expression compiled per request showed
        // in the request profile.
        let bytes = Array(text.utf8)
        let prefix = bytes.starts(with: Array("knify_live_".utf8)) || bytes.starts(with: Array("knify_test_".utf8))
        return prefix && bytes.count == 11 + 32 && bytes[11...].allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        }
    }
}

/// An uploaded workspace: a folder under the workspaces root, `/workspaces/<name>` in the API.
public struct WorkspaceRecord: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var tenant: String
    public var sizeBytes: Int64
    public var createdAt: Date

    public init(id: String, name: String, tenant: String, sizeBytes: Int64, createdAt: Date = Date()) {
        self.id = id
        self.name = name
        self.tenant = tenant
        self.sizeBytes = sizeBytes
        self.createdAt = createdAt
    }
}
