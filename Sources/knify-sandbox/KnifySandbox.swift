import ArgumentParser
import DockerEngine
import Foundation
import SandboxPolicy
import Sandboxes

@main
struct KnifySandbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knify-sandbox",
        abstract: "Operate Knify's sandboxes, images and policies directly against the Docker engine.",
        discussion: """
            Talks to the engine over its Unix socket (DOCKER_HOST=unix:///path, default /var/run/docker.sock), so it \
            works while the Knify server is down.
            """,
        subcommands: [ImageCommand.self, PolicyCommand.self]
    )
}

/// Options every command that talks to the engine takes.
struct EngineOptions: ParsableArguments {
    @Option(name: .customLong("docker-host"), help: "Engine socket as unix:///path (default: $DOCKER_HOST, else /var/run/docker.sock).")
    var dockerHost: String?

    func client() throws -> DockerClient {
        let environment = ProcessInfo.processInfo.environment
        do {
            return DockerClient(socketPath: try DockerHost.socketPath(dockerHost: dockerHost ?? environment["DOCKER_HOST"]))
        } catch {
            throw ValidationError(error.message)
        }
    }
}

/// Exit codes scripts can rely on.
enum ExitStatus {
    static let failure = ExitCode(1)
    /// The engine did not answer.
    static let engineUnavailable = ExitCode(3)
}

/// Prints a one-line error and picks the exit code.
func fail(_ error: any Error) -> ExitCode {
    var stderr = FileHandle.standardError
    print("error: \(error)", to: &stderr)
    if let error = error as? DockerError, error.code == .engineUnavailable { return ExitStatus.engineUnavailable }
    if let error = error as? SandboxError, error.code == .engineUnavailable { return ExitStatus.engineUnavailable }
    return ExitStatus.failure
}

extension FileHandle: @retroactive TextOutputStream {
    public func write(_ string: String) { write(Data(string.utf8)) }
}
