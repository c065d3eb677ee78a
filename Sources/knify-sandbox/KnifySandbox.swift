import ArgumentParser
import DockerEngine
import Foundation
import SandboxPolicy
import Sandboxes
import Storage

@main
struct KnifySandbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knify-sandbox",
        abstract: "Operate Knify's sandboxes, images and policies directly against the Docker engine.",
        discussion: """
            Talks to the engine over its Unix socket (DOCKER_HOST=unix:///path, default /var/run/docker.sock), so it \
            works while the Knify server is down.
            """,
        subcommands: [ListSandboxes.self, InspectSandbox.self, ExecInSandbox.self, PauseSandbox.self, UnpauseSandbox.self,
                      RemoveSandboxes.self, ReconcileSandboxes.self, SandboxLogs.self, PoolCommand.self, Prune.self, JobsCommand.self, Doctor.self, ImageCommand.self, PolicyCommand.self,
                      APIKeyCommand.self, ClientCommand.self, KnapsCommand.self, NodesCommand.self]
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

/// The exit status 1 after saying on stderr what was not found (an unknown id).
/// ISO-8601 in UTC, as the APIs write dates (a format style: no formatter made per date).
func isoString(_ date: Date) -> String { date.formatted(.iso8601) }

func notFound(_ what: String) -> ExitCode {
    var stderr = FileHandle.standardError
    print("error: no \(what)", to: &stderr)
    return ExitStatus.failure
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

/// Options of every command that reads or writes the store: the same store `knify serve` uses.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Knify's data directory, holding knify.sqlite (default: $KNIFY_DATA_DIR, else .knify/data).")
    var dataDir: String?
    @Option(help: "The store instead: sqlite:PATH or a cluster's postgres://user@host:port/db (default: $KNIFY_STORE, else the data directory's knify.sqlite).")
    var store: String?

    var location: StoreLocation {
        get throws {
            let environment = ProcessInfo.processInfo.environment
            if let text = store ?? environment["KNIFY_STORE"] {
                do {
                    return try StoreLocation(parsing: text)
                } catch {
                    throw ValidationError(error.message)
                }
            }
            let directory = dataDir ?? environment["KNIFY_DATA_DIR"] ?? ".knify/data"
            return .sqlite(path: (directory as NSString).appendingPathComponent("knify.sqlite"))
        }
    }

    func open() async throws -> any Store {
        try await location.open()
    }
}

/// JSON for `--json`: sorted keys, so scripts and diffs see a stable shape.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
