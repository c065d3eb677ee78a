import Hummingbird
import Knaps
import Logging
import Storage

/// Who is calling: the API key's tenant and scopes, resolved once by `AuthMiddleware`.
public struct Principal: Sendable {
    public enum Scope: String, Sendable, CaseIterable {
        case jobsRead = "jobs:read"
        case jobsWrite = "jobs:write"
        case admin
    }

    public var keyId: String
    public var tenant: String
    public var scopes: Set<Scope>
    /// Requests per hour for this key (its tier's or its own); nil for a stream token, whose minting was the
    /// limited request.
    public var hourlyLimit: Int?

    public var isAdmin: Bool { scopes.contains(.admin) }
    /// The tenant jobs are filtered by; nil for admin keys, which see every tenant.
    public var tenantFilter: String? { isAdmin ? nil : tenant }
}

/// The request context of every Knify route: Hummingbird's core storage plus the request id and the caller.
public struct KnifyRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// `X-Request-Id`: the caller's, when it sent a sensible one, else ours.
    public var requestId = ""
    public var principal: Principal?
    /// The Knaps API's caller (a client's bearer token), resolved by `KnapAuthMiddleware`.
    public var knapCaller: KnapCaller?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// JSON bodies are small; uploads collect their own (larger) limit.
    public var maxUploadSize: Int { 1 << 20 }

    /// The Knaps API's caller; 401 without one.
    func requireKnapCaller() throws -> KnapCaller {
        guard let knapCaller else { throw APIError.unauthorized("send Authorization: Bearer <access token from POST /api/oauth/token>") }
        return knapCaller
    }

    /// The caller, if it holds `scope` (admin holds every scope); 401/403 otherwise.
    func require(_ scope: Principal.Scope) throws -> Principal {
        guard let principal else { throw APIError.unauthorized("send Authorization: Bearer <api key>") }
        guard principal.scopes.contains(scope) || principal.isAdmin else {
            throw APIError.forbidden("this API key lacks the \(scope.rawValue) scope")
        }
        return principal
    }
}
