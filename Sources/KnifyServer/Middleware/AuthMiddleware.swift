import Foundation
import Hummingbird
import Storage

/// Resolves `Authorization: Bearer <key>` to a `Principal`, or answers 401. Keys are looked up by their SHA-256;
/// the key itself is never logged or kept.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = KnifyRequestContext
    let store: any AccessStore
    let limits: RateLimits
    /// Stream tokens stand in for a key on `GET /jobs/{id}/cursor/stream`, where browsers cannot send headers.
    let streamTokens: StreamTokens

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.principal = try await principal(for: request)
        return try await next(request, context)
    }

    private func principal(for request: Request) async throws -> Principal {
        guard let header = request.headers[.authorization] else {
            if let token = request.uri.queryParameters["token"].map(String.init),
               let principal = streamTokens.principal(token: token, path: request.uri.path) {
                return principal
            }
            throw APIError.unauthorized("send Authorization: Bearer <api key>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError.unauthorized("the Authorization header must be 'Bearer <api key>'")
        }
        let key = String(parts[1]).trimmingCharacters(in: .whitespaces)
        guard APIKeys.looksLikeKey(key) else {
            throw APIError.unauthorized("that is not a Knify API key (knify_live_… or knify_test_…)")
        }
        let record: APIKeyRecord?
        do {
            record = try await store.apiKey(hash: APIKeys.hash(key))
        } catch {
            throw APIError.internalError("the key store cannot be read")
        }
        guard let record, !record.isRevoked else { throw APIError.unauthorized("unknown or revoked API key") }
        return Principal(keyId: record.id, tenant: record.tenant,
                         scopes: Set(record.scopes.compactMap(Principal.Scope.init(rawValue:))),
                         hourlyLimit: limits.hourlyLimit(for: record))
    }
}
