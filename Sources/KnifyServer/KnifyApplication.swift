import DockerEngine
import Foundation
import Hummingbird
import Logging

/// What `knify serve` is configured with (flags and their `KNIFY_*` twins are parsed by the executable).
public struct ServerConfiguration: Sendable {
    public static let version = "0.1.0"

    public var host: String
    public var port: Int
    /// The engine socket path.
    public var dockerSocket: String
    /// Holds `knify.sqlite`, uploaded workspaces and large artifacts.
    public var dataDirectory: String
    public var image: String
    public var policiesDirectory: String
    public var defaultPolicy: String
    public var concurrency: Int
    /// Sandboxes of the default policy kept started ahead of demand.
    public var warmPool: Int
    /// Vendor keys by variable name (`CURSOR_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY`), from the environment.
    public var agentKeys: [String: String]
    public var node: String

    public init(host: String = "127.0.0.1", port: Int = 8080, dockerSocket: String = DockerHost.defaultSocketPath,
                dataDirectory: String = ".knify/data", image: String = "knify/sandbox:local",
                policiesDirectory: String = "Policies", defaultPolicy: String = "default", concurrency: Int = 4,
                warmPool: Int = 0, agentKeys: [String: String] = [:], node: String = "local") {
        self.host = host
        self.port = port
        self.dockerSocket = dockerSocket
        self.dataDirectory = dataDirectory
        self.image = image
        self.policiesDirectory = policiesDirectory
        self.defaultPolicy = defaultPolicy
        self.concurrency = concurrency
        self.warmPool = warmPool
        self.agentKeys = agentKeys
        self.node = node
    }
}

/// The reply of `GET /`, as the reference documents it.
struct Health: ResponseEncodable {
    let status: String
    let version: String
}

/// Builds the HTTP application. Routes grow here as the job and Knaps APIs land.
public func buildApplication(_ configuration: ServerConfiguration, logger: Logger = Logger(label: "knify.server"))
    -> some ApplicationProtocol
{
    let router = Router()
    router.get("/") { _, _ in Health(status: "ok", version: ServerConfiguration.version) }
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "knify"),
        logger: logger
    )
}
