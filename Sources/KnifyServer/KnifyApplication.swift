import Foundation
import Hummingbird
import Jobs
import Logging
import Storage

/// Builds the HTTP application over running services. Public routes answer without a key; everything else passes
/// auth, then the rate limiter. `RequestMiddleware` wraps it all, so every reply — unmatched routes included —
/// carries a request id and errors come out as the `{error, detail, code}` envelope.
///
/// Run it in a `ServiceGroup` after `services.lifecycle` (see `knify serve`): a group stops its services in reverse
/// order, so jobs reach their final states — and their SSE streams end — before the server stops.
public func buildApplication(_ configuration: ServerConfiguration, services: KnifyServices,
                             logger: Logger = Logger(label: "knify.server")) -> some ApplicationProtocol {
    let router = Router(context: KnifyRequestContext.self)
    router.add(middleware: RequestMiddleware())
    let metrics = ServerMetrics.bootstrap()
    metrics.prepare(policies: services.sandboxes.configuration.policies.keys, jobTypes: JobType.all)
    let system = SystemRoutes(metrics: metrics, store: services.store, node: configuration.node, member: services.member)
    system.registerPublic(on: router)
    ConsoleRoutes().register(on: router)

    let api = router.group()
        .add(middleware: AuthMiddleware(store: services.store, limits: configuration.rateLimits, streamTokens: services.streamTokens))
        .add(middleware: RateLimitMiddleware(limiter: services.rateLimiter))
    system.registerAuthenticated(on: api)
    JobRoutes(jobs: services.jobs).register(on: api)
    JobStreamRoutes(jobs: services.jobs, tokens: services.streamTokens, keepAlive: configuration.sseKeepAlive).register(on: api)
    WorkspaceRoutes(jobs: services.jobs, maximumUploadBytes: configuration.maximumUploadBytes).register(on: api)
    AdminRoutes(sandboxes: services.sandboxes, store: services.store).register(on: api)

    // The Knaps API: its own tokens (client credentials), its own per-minute limit, `{"detail"}` errors.
    OAuthRoutes(auth: services.knapAuth).register(on: router)
    let knaps = router.group()
        .add(middleware: KnapAuthMiddleware(auth: services.knapAuth))
        .add(middleware: KnapRateLimitMiddleware(limiter: services.knapRateLimiter, limit: configuration.knapsRateLimit))
    KnapRoutes(knaps: services.knaps, runner: services.knapRunner).register(on: knaps)
    KnapRunRoutes(runner: services.knapRunner, keepAlive: configuration.sseKeepAlive).register(on: knaps)

    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "knify"),
        logger: logger
    )
}
