import Foundation
import Hummingbird
import Storage
import Synchronization

/// Requests per hour by tier; enterprise keys carry their own.
public struct RateLimits: Sendable {
    public var free: Int
    public var pro: Int
    /// For an enterprise key without a limit of its own.
    public var enterpriseDefault: Int

    public init(free: Int = 100, pro: Int = 1_000, enterpriseDefault: Int = 10_000) {
        self.free = free
        self.pro = pro
        self.enterpriseDefault = enterpriseDefault
    }

    func hourlyLimit(for key: APIKeyRecord) -> Int {
        switch key.tier {
        case "enterprise": key.rateLimitPerHour ?? enterpriseDefault
        case "pro": pro
        default: free
        }
    }
}

/// Fixed windows per key (an hour for API keys, a minute for Knaps clients), counted in memory (a restart
/// forgives) or, in a cluster, in the shared store, so a key's budget is one across all API nodes. The middlewares
/// put `X-RateLimit-*` on every authenticated reply, errors included, and answer 429 with `Retry-After` once a key's
/// window is spent.
final class RateLimiter: Sendable {
    private struct Window {
        var start: Int
        var count: Int
    }

    private let windows = Mutex<[String: Window]>([:])
    let windowSeconds: Int
    let shared: (any ClusterStore)?

    init(windowSeconds: Int = 3600, shared: (any ClusterStore)? = nil) {
        self.windowSeconds = windowSeconds
        self.shared = shared
    }

    /// Counts one request; answers what the headers say, and whether it is allowed. A shared count that cannot be
    /// read lets the request through (counted here): the store being slow is no reason to refuse service.
    func take(key: String, limit: Int, now: Date = Date()) async -> (allowed: Bool, remaining: Int, reset: Int) {
        let seconds = Int(now.timeIntervalSince1970)
        let start = seconds - seconds % windowSeconds
        if let shared, let count = try? await shared.hit("\(windowSeconds):\(key)", window: Int64(start),
                                                          expireBefore: Int64(start - windowSeconds)) {
            return (count <= limit, max(0, limit - count), start + windowSeconds)
        }
        return windows.withLock { windows in
            var window = windows[key].flatMap { $0.start == start ? $0 : nil } ?? Window(start: start, count: 0)
            let allowed = window.count < limit
            if allowed { window.count += 1 }
            windows[key] = window
            return (allowed, max(0, limit - window.count), start + windowSeconds)
        }
    }
}

struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = KnifyRequestContext
    let limiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let principal = context.principal, let limit = principal.hourlyLimit else { return try await next(request, context) }
        return try await limiter.limit(request, context: context, key: principal.keyId, limit: limit, per: "hour for this key", next: next)
    }
}

/// The Knaps API's limit: requests per minute per client id.
struct KnapRateLimitMiddleware: RouterMiddleware {
    typealias Context = KnifyRequestContext
    let limiter: RateLimiter
    let limit: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let caller = context.knapCaller else { return try await next(request, context) }
        return try await limiter.limit(request, context: context, key: caller.clientId, limit: limit, per: "minute for this client", next: next)
    }
}

extension RateLimiter {
    /// Counts the request against `key`, then answers it (or 429), with the rate-limit headers either way.
    func limit(_ request: Request, context: KnifyRequestContext, key: String, limit: Int, per window: String,
               next: (Request, KnifyRequestContext) async throws -> Response) async throws -> Response {
        let now = Date()
        let taken = await take(key: key, limit: limit, now: now)
        var headers = HTTPFields()
        headers[.rateLimitLimit] = String(limit)
        headers[.rateLimitRemaining] = String(taken.remaining)
        headers[.rateLimitReset] = String(taken.reset)
        guard taken.allowed else {
            var error = APIError(.tooManyRequests, "RATE_LIMITED", "Rate limit exceeded",
                                 detail: "\(limit) requests per \(window); the window resets at \(taken.reset)")
            error.headers = headers
            error.headers[.retryAfter] = String(max(1, taken.reset - Int(now.timeIntervalSince1970)))
            throw error
        }
        do {
            var response = try await next(request, context)
            response.headers.append(contentsOf: headers)
            return response
        } catch {
            var apiError = APIError(from: error)
            apiError.headers.append(contentsOf: headers)
            throw apiError
        }
    }
}
