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

    public init(host: String = "127.0.0.1", port: Int = 8080, dockerSocket: String = DockerHost.defaultSocketPath) {
        self.host = host
        self.port = port
        self.dockerSocket = dockerSocket
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
