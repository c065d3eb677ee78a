import DockerEngine
import Foundation
import Sandboxes

/// The real Docker engine the tests run against: `DOCKER_HOST` (unix://…) or /var/run/docker.sock.
/// `make test` starts it and builds the offline image first; a test that finds either missing fails and says so.
public enum TestEngine {
    public static let client: DockerClient = {
        do {
            return try DockerClient(environment: ProcessInfo.processInfo.environment)
        } catch {
            fatalError("DOCKER_HOST is unusable: \(error)")
        }
    }()

    /// The offline image `make image` builds.
    public static let image = "knify/sandbox:local"

    /// Marks every container and volume a test makes, so `make clean` and the tests' own cleanup find them.
    public static let testLabel = "io.knify.test"

    /// A fresh name no other test (or earlier run) uses.
    public static func uniqueName(_ prefix: String) -> String {
        "knify-test-\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// A container spec for the offline image that idles until stopped; no network, as every test sandbox.
    public static func idleSpec(labels: [String: String] = [:], hostConfig: HostConfig = HostConfig()) -> ContainerSpec {
        var host = hostConfig
        host.networkMode = host.networkMode ?? "none"
        var allLabels = labels
        allLabels[testLabel] = "1"
        return ContainerSpec(image: image, cmd: ["sleep", "3600"], labels: allLabels, stopSignal: "SIGKILL",
                             hostConfig: host)
    }

    /// Creates and starts a container, runs `body`, and removes the container whatever happened.
    public static func withContainer<T>(
        _ spec: ContainerSpec = idleSpec(), name: String? = nil, start: Bool = true,
        _ body: (String) async throws -> T
    ) async throws -> T {
        let created = try await client.createContainer(spec, name: name ?? uniqueName("c"))
        do {
            if start { try await client.startContainer(created.id) }
            let result = try await body(created.id)
            try? await client.removeContainer(created.id, force: true, volumes: true)
            return result
        } catch {
            try? await client.removeContainer(created.id, force: true, volumes: true)
            throw error
        }
    }

    /// Removes every container and volume a node's sandbox manager made (tests run one node each).
    public static func sweep(node: String) async {
        for container in (try? await client.listContainers(all: true, labels: ["\(SandboxManager.Label.node)=\(node)"])) ?? [] {
            try? await client.removeContainer(container.id, force: true, volumes: true)
        }
        for volume in (try? await client.listVolumes(labels: ["\(SandboxManager.Label.node)=\(node)"])) ?? [] {
            try? await client.removeVolume(name: volume.name, force: true)
        }
    }
}

extension TestEngine {
    /// Creates a labelled volume, runs `body`, and removes the volume whatever happened (after any container using
    /// it is gone, which `withContainer` inside `body` guarantees).
    public static func withVolume<T>(_ body: (String) async throws -> T) async throws -> T {
        let name = uniqueName("vol")
        _ = try await client.createVolume(name: name, labels: [testLabel: "1"])
        do {
            let result = try await body(name)
            try? await client.removeVolume(name: name, force: true)
            return result
        } catch {
            try? await client.removeVolume(name: name, force: true)
            throw error
        }
    }
}

extension TestEngine {
    /// Whether the engine reports the container paused, once its view has settled. The engine (20.10) sets the flag
    /// both in the pause/unpause call and again when containerd's event for it is processed, later: right after a
    /// quick pause → unpause, a late "paused" event can show `paused: true` until the "resumed" event follows. So a
    /// "not paused" answer is awaited (bounded) rather than read once.
    public static func settledPaused(_ container: String, expected: Bool, within seconds: Double = 10) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            let paused = try await client.inspectContainer(container).state.paused
            if paused == expected || ContinuousClock.now > deadline { return paused }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
