import DockerEngine
import Foundation
import Storage

/// What `knify serve` is configured with (flags and their `KNIFY_*` twins are parsed by the executable).
public struct ServerConfiguration: Sendable {
    public static let version = "0.1.0"

    public var host: String
    public var port: Int
    /// The engine socket path.
    public var dockerSocket: String
    /// Holds `knify.sqlite`, large artifacts and (unless `workspacesDirectory` is set) uploaded workspaces.
    public var dataDirectory: String
    /// Where uploaded workspaces live; `<data dir>/workspaces` when nil.
    public var workspacesDirectory: String?
    public var image: String
    public var policiesDirectory: String
    public var defaultPolicy: String
    public var concurrency: Int
    /// Sandboxes of the default policy kept started ahead of demand.
    public var warmPool: Int
    /// Vendor keys by variable name (`CURSOR_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY`), from the environment.
    public var agentKeys: [String: String]
    public var node: String
    public var rateLimits: RateLimits
    /// How often an idle SSE stream sends a `: keep-alive` comment.
    public var sseKeepAlive: Duration
    /// The largest workspace upload (compressed).
    public var maximumUploadBytes: Int
    /// On shutdown, running jobs get this long to finish before they are cancelled.
    public var shutdownGrace: Duration
    /// Knaps API requests per minute per client id.
    public var knapsRateLimit = 100
    /// How often the knap scheduler looks for due slots; nil runs no scheduler on this server.
    public var schedulerInterval: Duration? = .seconds(5)
    /// The store; nil is the SQLite file under the data directory. PostgreSQL makes this process a cluster node.
    public var store: StoreLocation?
    /// What this node does in a cluster; a single machine is `all`.
    public var role: NodeRole = .all
    /// A cluster node that has not renewed its lease for this long is declared lost.
    public var lease: Duration = .seconds(15)

    public init(host: String = "127.0.0.1", port: Int = 8080, dockerSocket: String = DockerHost.defaultSocketPath,
                dataDirectory: String = ".knify/data", workspacesDirectory: String? = nil, image: String = "knify/sandbox:local",
                policiesDirectory: String = "Policies", defaultPolicy: String = "default", concurrency: Int = 4,
                warmPool: Int = 0, agentKeys: [String: String] = [:], node: String = "local", rateLimits: RateLimits = RateLimits(),
                sseKeepAlive: Duration = .seconds(15), maximumUploadBytes: Int = 100 << 20, shutdownGrace: Duration = .seconds(30)) {
        self.host = host
        self.port = port
        self.dockerSocket = dockerSocket
        self.dataDirectory = dataDirectory
        self.workspacesDirectory = workspacesDirectory
        self.image = image
        self.policiesDirectory = policiesDirectory
        self.defaultPolicy = defaultPolicy
        self.concurrency = concurrency
        self.warmPool = warmPool
        self.agentKeys = agentKeys
        self.node = node
        self.rateLimits = rateLimits
        self.sseKeepAlive = sseKeepAlive
        self.maximumUploadBytes = maximumUploadBytes
        self.shutdownGrace = shutdownGrace
    }

    public var storeLocation: StoreLocation { store ?? .sqlite(path: databasePath) }

    /// The SQLite file, shared with `knify-sandbox --data-dir`.
    public var databasePath: String { (dataDirectory as NSString).appendingPathComponent("knify.sqlite") }
    public var resolvedWorkspacesDirectory: String {
        workspacesDirectory ?? (dataDirectory as NSString).appendingPathComponent("workspaces")
    }
}

/// A node's part in a cluster (`knify serve --role`).
public enum NodeRole: String, Sendable, CaseIterable {
    /// Serves the API; places jobs on workers and follows them, runs none.
    case api
    /// Runs jobs on its own engine; serves the API too (its operators' `/health`, `/metrics`).
    case worker
    /// Both: a single machine, or a node of a small cluster.
    case all

    public var runsJobs: Bool { self != .api }
}
