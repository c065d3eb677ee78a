import ArgumentParser
import DockerEngine
import Foundation
import Hummingbird
import KnifyServer
import Logging

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
        discussion: "Every option has an environment twin, shown in brackets; a flag wins over its variable."
    )

    @Option(help: "Address to listen on [KNIFY_HOST].") var host: String?
    @Option(help: "Port to listen on [KNIFY_PORT].") var port: Int?
    @Option(name: .customLong("docker-host"), help: "Engine socket as unix:///path [DOCKER_HOST].") var dockerHost: String?

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
        let configuration = ServerConfiguration(host: host ?? environment["KNIFY_HOST"] ?? "127.0.0.1", port: port,
                                                dockerSocket: socket)

        // Say at once whether the engine answers; the server starts either way and sandbox calls fail fast until it does.
        do {
            let version = try await DockerClient(socketPath: socket, logger: logger).apiVersion()
            logger.info("Docker engine answers", metadata: ["socket": "\(socket)", "api": "\(version)"])
        } catch {
            logger.warning("Docker engine unavailable", metadata: ["socket": "\(socket)", "error": "\(error)"])
        }
        try await buildApplication(configuration, logger: logger).runService()
    }
}
