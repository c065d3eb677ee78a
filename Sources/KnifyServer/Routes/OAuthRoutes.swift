import Foundation
import Hummingbird
import Knaps

/// `POST /api/oauth/token` (client credentials and refresh grants) and `POST /api/oauth/revoke`. Public routes: the
/// credentials are in the body (or HTTP Basic, as RFC 6749 allows). Errors are `{"detail"}` like the rest of `/api/`.
struct OAuthRoutes {
    let auth: KnapAuth

    func register(on router: some RouterMethods<KnifyRequestContext>) {
        router.post("/api/oauth/token", use: token)
        router.post("/api/oauth/revoke", use: revoke)
    }

    @Sendable func token(_ request: Request, context: KnifyRequestContext) async throws -> Response {
        var fields = try await Self.form(request, context: context)
        if let (id, secret) = Self.basicCredentials(request) {
            fields["client_id"] = fields["client_id"] ?? id
            fields["client_secret"] = fields["client_secret"] ?? secret
        }
        let grant: KnapAuth.Grant
        switch fields["grant_type"] {
        case "client_credentials":
            guard let id = fields["client_id"], let secret = fields["client_secret"] else {
                throw APIError.badRequest("client_credentials needs client_id and client_secret")
            }
            grant = try await auth.grant(clientId: id, secret: secret)
        case "refresh_token":
            guard let refresh = fields["refresh_token"] else { throw APIError.badRequest("refresh_token is required") }
            grant = try await auth.refresh(token: refresh, clientId: fields["client_id"])
        case nil:
            throw APIError.badRequest("grant_type is required: client_credentials or refresh_token")
        case let other?:
            throw APIError.badRequest("unsupported grant_type \(other): use client_credentials or refresh_token")
        }
        var response = try JSONReply(grant).response(from: request, context: context)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    struct Revoked: Encodable {
        var revoked = true
    }

    /// RFC 7009: always 200, whether or not the token was known, so it cannot be used to probe tokens.
    @Sendable func revoke(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<Revoked> {
        let fields = try await Self.form(request, context: context)
        guard let token = fields["token"] else { throw APIError.badRequest("token is required") }
        try await auth.revoke(token: token)
        return JSONReply(Revoked())
    }

    /// The body's fields: form-encoded as OAuth specifies, or a JSON object of strings for convenience.
    static func form(_ request: Request, context: KnifyRequestContext) async throws -> [String: String] {
        var request = request
        let buffer = try await request.collectBody(upTo: 64 << 10)
        let text = String(buffer: buffer)
        if request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                throw APIError.badRequest("the body is not a JSON object")
            }
            return object.compactMapValues { $0 as? String }
        }
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ part: Substring) throws -> String {
                guard let value = part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                    throw APIError.badRequest("the body is not valid application/x-www-form-urlencoded")
                }
                return value
            }
            let name = try decoded(parts[0])
            if fields[name] == nil { fields[name] = try parts.count > 1 ? decoded(parts[1]) : "" }
        }
        return fields
    }

    static func basicCredentials(_ request: Request) -> (String, String)? {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("basic "),
              let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
        let id = String(text[..<colon]).removingPercentEncoding ?? String(text[..<colon])
        let secret = String(text[text.index(after: colon)...]).removingPercentEncoding ?? String(text[text.index(after: colon)...])
        return (id, secret)
    }
}
