import Crypto
import Foundation

/// Short-lived tokens for `GET /jobs/{id}/cursor/stream?token=…`: a browser's `EventSource` cannot send an
/// Authorization header, and putting the API key itself in a URL would leak it into logs and history. A token names
/// one job, carries the caller's tenant, and expires. It is signed with a key that lives only in this process, or,
/// in a cluster, with a key the store shares among the API nodes, so a token minted by one is honoured by all.
public struct StreamTokens: Sendable {
    private let key: SymmetricKey
    public let lifetime: TimeInterval

    public init(lifetime: TimeInterval = 300, key: SymmetricKey = SymmetricKey(size: .bits256)) {
        self.key = key
        self.lifetime = lifetime
    }

    private struct Claims: Codable {
        var job: String
        var key: String
        var tenant: String
        var admin: Bool
        var expires: Int
    }

    public func make(jobId: String, for principal: Principal, now: Date = Date()) -> (token: String, expires: Date) {
        let expires = Int(now.timeIntervalSince1970 + lifetime)
        let claims = Claims(job: jobId, key: principal.keyId, tenant: principal.tenant, admin: principal.isAdmin, expires: expires)
        let payload = (try? JSONEncoder().encode(claims)) ?? Data()
        let mac = Data(HMAC<SHA256>.authenticationCode(for: payload, using: key))
        return (Self.base64URL(payload) + "." + Self.base64URL(mac), Date(timeIntervalSince1970: TimeInterval(expires)))
    }

    /// The principal a valid, unexpired token stands for — only on its own job's stream path.
    func principal(token: String, path: String, now: Date = Date()) -> Principal? {
        let parts = token.split(separator: ".")
        guard parts.count == 2, let payload = Self.data(base64URL: parts[0]), let mac = Self.data(base64URL: parts[1]),
              HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: payload, using: key),
              let claims = try? JSONDecoder().decode(Claims.self, from: payload),
              Double(claims.expires) > now.timeIntervalSince1970,
              path == "/jobs/\(claims.job)/cursor/stream" else { return nil }
        // Reading this one stream is all a token allows.
        return Principal(keyId: claims.key, tenant: claims.tenant, scopes: claims.admin ? [.jobsRead, .admin] : [.jobsRead],
                         hourlyLimit: nil)
    }

    private static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func data(base64URL text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
