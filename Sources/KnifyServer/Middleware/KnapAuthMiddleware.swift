import Hummingbird
import Knaps

/// Resolves the Knaps API's `Authorization: Bearer <access token>` to a `KnapCaller`, or answers 401 `{"detail"}`.
/// Tokens are looked up by their hash and never logged.
struct KnapAuthMiddleware: RouterMiddleware {
    typealias Context = KnifyRequestContext
    let auth: KnapAuth

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw APIError.unauthorized("send Authorization: Bearer <access token from POST /api/oauth/token>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError.unauthorized("the Authorization header must be 'Bearer <access token>'")
        }
        var context = context
        context.knapCaller = try await auth.caller(token: String(parts[1]).trimmingCharacters(in: .whitespaces))
        context.logger[metadataKey: "client"] = .string(context.knapCaller?.clientId ?? "")
        return try await next(request, context)
    }
}
