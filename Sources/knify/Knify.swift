import ArgumentParser
import DockerEngine
import Foundation
import Hummingbird
import KnifyServer
import Logging
import ServiceLifecycle
import Storage

@main
struct Knify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knify",
        abstract: "Knify: AI coding agents in per-job Docker sandboxes, behind a REST API.",
        version: ServerConfiguration.version,
        subcommands: [Serve.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the Knify server.",
        discussion: """
            Every option has an environment twin, shown in brackets; a flag wins over its variable. Agent vendor keys \
            are read from the environment only (CURSOR_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY), never from flags, \
            so they stay out of the process list; they are passed to the agent's process alone and redacted from its \
            output. API keys for clients: knify-sandbox api-key create. On SIGTERM or SIGINT, running jobs get the \
            shutdown grace to finish, then end cancelled; queued jobs start at the next start.
            """
    )

    @Option(help: "Address to listen on [KNIFY_HOST] (default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on [KNIFY_PORT] (default 8080).") var port: Int?
    @Option(name: .customLong("docker-host"), help: "Engine socket as unix:///path [DOCKER_HOST].") var dockerHost: String?
    @Option(name: .customLong("data-dir"), help: "Store, workspaces and artifacts [KNIFY_DATA_DIR] (default .knify/data).") var dataDir: String?
    @Option(help: "Sandbox image [KNIFY_IMAGE] (default knify/sandbox:local).") var image: String?
    @Option(help: "Folder of policy files [KNIFY_POLICIES] (default Policies).") var policies: String?
    @Option(help: "Policy for new sandboxes [KNIFY_POLICY] (default default).") var policy: String?
    @Option(help: "Jobs running at once; more wait queued [KNIFY_CONCURRENCY] (default 4).") var concurrency: Int?
    @Option(name: .customLong("warm-pool"), help: "Sandboxes kept started ahead of demand [KNIFY_WARM_POOL] (default 0).") var warmPool: Int?
    @Option(name: .customLong("node-id"), help: "This node's name on sandbox labels [KNIFY_NODE_ID] (default local).") var nodeId: String?
    @Option(help: "Folder of uploaded workspaces [KNIFY_WORKSPACES] (default <data-dir>/workspaces).") var workspaces: String?
    @Option(name: .customLong("rate-limit-free"), help: "Requests per hour for free-tier keys [KNIFY_RATE_LIMIT_FREE] (default 100).") var rateLimitFree: Int?
    @Option(name: .customLong("rate-limit-pro"), help: "Requests per hour for pro-tier keys [KNIFY_RATE_LIMIT_PRO] (default 1000).") var rateLimitPro: Int?
    @Option(name: .customLong("rate-limit-enterprise"), help: "Requests per hour for enterprise keys without their own limit [KNIFY_RATE_LIMIT_ENTERPRISE] (default 10000).") var rateLimitEnterprise: Int?
    @Option(name: .customLong("sse-keepalive"), help: "Seconds between keep-alive comments on idle event streams [KNIFY_SSE_KEEPALIVE] (default 15).") var sseKeepAlive: Int?
    @Option(name: .customLong("max-upload-mb"), help: "Largest workspace upload in MiB, compressed [KNIFY_MAX_UPLOAD_MB] (default 100).") var maxUploadMB: Int?
    @Option(name: .customLong("shutdown-grace"), help: "Seconds running jobs get to finish on SIGTERM before they are cancelled [KNIFY_SHUTDOWN_GRACE] (default 30).") var shutdownGrace: Int?
    @Option(name: .customLong("knaps-rate-limit"), help: "Knaps API requests per minute per client id [KNIFY_KNAPS_RATE_LIMIT] (default 100).") var knapsRateLimit: Int?
    @Option(name: .customLong("scheduler-interval"), help: "Seconds between the knap scheduler's looks for due slots; 0 runs no scheduler here [KNIFY_SCHEDULER_INTERVAL] (default 5).") var schedulerInterval: Int?
    @Option(help: "Where jobs, keys and knaps are kept: sqlite:PATH, or postgres://user@host:port/db for a cluster [KNIFY_STORE] (default sqlite:<data-dir>/knify.sqlite).") var store: String?
    @Option(help: "This node's part in a cluster: api (serves the API, runs no jobs), worker (runs jobs on its engine) or all [KNIFY_ROLE] (default all).") var role: String?
    @Option(name: .customLong("lease"), help: "Seconds a cluster node may miss heartbeats before it is declared lost [KNIFY_LEASE] (default 15).") var lease: Int?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var logger = Logger(label: "knify")
        logger.logLevel = environment["KNIFY_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info

        let port = port ?? environment["KNIFY_PORT"].map { Int($0) ?? -1 } ?? 8080
        guard (1...65535).contains(port) else {
            throw ValidationError("KNIFY_PORT must be a port number between 1 and 65535")
        }
        let socket: String
        do {
            socket = try DockerHost.socketPath(dockerHost: dockerHost ?? environment["DOCKER_HOST"])
        } catch {
            throw ValidationError(error.message)
        }
        func number(_ flag: Int?, _ variable: String, _ fallback: Int, minimum: Int) throws -> Int {
            let value = flag ?? environment[variable].map { Int($0) ?? Int.min } ?? fallback
            guard value >= minimum else { throw ValidationError("\(variable) must be a whole number of at least \(minimum)") }
            return value
        }
        // Vendor keys come from the environment only: a flag would show them in the process list.
        let keys = ["CURSOR_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"].reduce(into: [String: String]()) { keys, name in
            if let value = environment[name], !value.isEmpty { keys[name] = value }
        }
        var configuration = ServerConfiguration(
            host: host ?? environment["KNIFY_HOST"] ?? "127.0.0.1", port: port, dockerSocket: socket,
            dataDirectory: dataDir ?? environment["KNIFY_DATA_DIR"] ?? ".knify/data",
            image: image ?? environment["KNIFY_IMAGE"] ?? "knify/sandbox:local",
            policiesDirectory: policies ?? environment["KNIFY_POLICIES"] ?? "Policies",
            defaultPolicy: policy ?? environment["KNIFY_POLICY"] ?? "default",
            concurrency: try number(concurrency, "KNIFY_CONCURRENCY", 4, minimum: 1),
            warmPool: try number(warmPool, "KNIFY_WARM_POOL", 0, minimum: 0),
            agentKeys: keys, node: nodeId ?? environment["KNIFY_NODE_ID"] ?? "local",
            rateLimits: RateLimits(free: try number(rateLimitFree, "KNIFY_RATE_LIMIT_FREE", 100, minimum: 1),
                                   pro: try number(rateLimitPro, "KNIFY_RATE_LIMIT_PRO", 1_000, minimum: 1),
                                   enterpriseDefault: try number(rateLimitEnterprise, "KNIFY_RATE_LIMIT_ENTERPRISE", 10_000, minimum: 1)),
            sseKeepAlive: .seconds(try number(sseKeepAlive, "KNIFY_SSE_KEEPALIVE", 15, minimum: 1)),
            maximumUploadBytes: try number(maxUploadMB, "KNIFY_MAX_UPLOAD_MB", 100, minimum: 1) << 20,
            shutdownGrace: .seconds(try number(shutdownGrace, "KNIFY_SHUTDOWN_GRACE", 30, minimum: 0)))
        configuration.workspacesDirectory = workspaces ?? environment["KNIFY_WORKSPACES"]
        configuration.knapsRateLimit = try number(knapsRateLimit, "KNIFY_KNAPS_RATE_LIMIT", 100, minimum: 1)
        let interval = try number(schedulerInterval, "KNIFY_SCHEDULER_INTERVAL", 5, minimum: 0)
        configuration.schedulerInterval = interval > 0 ? .seconds(interval) : nil
        if let text = store ?? environment["KNIFY_STORE"] {
            do {
                configuration.store = try StoreLocation(parsing: text)
            } catch {
                throw ValidationError(error.message)
            }
        }
        let roleName = role ?? environment["KNIFY_ROLE"] ?? "all"
        guard let nodeRole = NodeRole(rawValue: roleName) else { throw ValidationError("--role must be api, worker or all") }
        configuration.role = nodeRole
        configuration.lease = .seconds(try number(lease, "KNIFY_LEASE", 15, minimum: 2))
        _ = ServerMetrics.bootstrap()

        // Say at once whether the engine answers; the server starts either way and sandbox calls fail fast until it does.
        // An API node has no engine of its own.
        if nodeRole.runsJobs {
            do {
                let version = try await DockerClient(socketPath: socket, logger: logger).apiVersion()
                logger.info("Docker engine answers", metadata: ["socket": "\(socket)", "api": "\(version)"])
            } catch {
                logger.warning("Docker engine unavailable", metadata: ["socket": "\(socket)", "error": "\(error)"])
            }
        }
        let services = try await KnifyServices.start(configuration, logger: logger)
        logger.info("Knify ready", metadata: ["store": "\(configuration.storeLocation)", "role": "\(configuration.role.rawValue)",
                                              "node": "\(configuration.node)", "policy": "\(configuration.defaultPolicy)",
                                              "concurrency": "\(configuration.concurrency)", "keys": "\(keys.keys.sorted())"])
        let application = buildApplication(configuration, services: services, logger: logger)
        // Stopped in reverse order on SIGTERM/SIGINT: jobs reach final states first, then the server closes.
        let group = ServiceGroup(configuration: .init(services: [application, services.lifecycle],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
