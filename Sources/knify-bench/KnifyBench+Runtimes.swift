import ArgumentParser
import DockerEngine
import Foundation
import SandboxPolicy
import Sandboxes

extension KnifyBench {
    /// What a sandbox pays for gVisor: the same container (the bench policy's configuration, only the runtime
    /// changed) under runc and under runsc, each step alternating between the two so machine drift hits both.
    static let runtimeSteps: [(label: String, key: String)] = [
        ("create + start", "create+start"),
        ("exec (true)", "exec"),
        ("pause + unpause", "pause+unpause"),
        ("CPU: 200k shell loop iterations", "cpu"),
        ("file I/O: 64 MiB write+read, 500 small files", "io"),
    ]

    /// The runtime table's medians by runtime and step key; empty when the engine lacks one of the two.
    func measureRuntimes(client: DockerClient, policy: Policy, node: String) async throws -> [String: [String: Double]] {
        let offered = Set(try await client.info().runtimes?.keys.map { $0 } ?? [])
        guard offered.contains("runsc") else {
            print("runtimes: the engine does not offer runsc, so runc vs runsc is not measured (\(Policy.registrationHint(for: "runsc")))")
            return [:]
        }
        let runtimes = ["runc", "runsc"]
        let recorder = Recorder()
        let labels = [SandboxManager.Label.node: node]
        func spec(_ runtime: String, volume: String) -> ContainerSpec {
            var spec = ContainerSpec(image: SandboxImage.defaultTag, cmd: ["sleep", "infinity"], user: policy.user, labels: labels,
                                     stopSignal: "SIGKILL",
                                     hostConfig: policy.hostConfig(workspaceVolume: volume, volumeLabels: labels, runtime: runtime))
            spec.workingDir = policy.workspacePath
            return spec
        }
        // Execs go in as Knify sends them: under runsc through knify-confine (`Policy.confined`).
        func shell(_ container: String, _ runtime: String, _ script: String) async throws {
            let run = try await client.exec(in: container, policy.confined(ExecSpec(cmd: ["sh", "-c", script]), runtime: runtime))
            guard run.exitCode == 0 else {
                throw ValidationError("bench task failed (exit \(run.exitCode)): \(String(decoding: run.stderr, as: UTF8.self))")
            }
        }
        let workspace = policy.workspacePath
        let cpu = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"
        let io = "dd if=/dev/zero of=\(workspace)/big bs=64k count=1024 2>/dev/null && cat \(workspace)/big >/dev/null && "
            + "mkdir -p \(workspace)/small && for i in $(seq 500); do echo $i > \(workspace)/small/$i; done && "
            + "cat \(workspace)/small/* >/dev/null && rm -rf \(workspace)/big \(workspace)/small"

        // One long-lived container per runtime for the steps that run in a started sandbox.
        var running: [String: String] = [:]
        for runtime in runtimes {
            let id = try await client.createContainer(spec(runtime, volume: "\(node)-rt-\(runtime)"), name: "\(node)-rt-\(runtime)").id
            try await client.startContainer(id)
            running[runtime] = id
        }
        for index in 0..<iterations {
            for runtime in runtimes {
                let volume = "\(node)-rt-\(runtime)-\(index)"
                var id = ""
                try await recorder.time("\(runtime) create+start") {
                    id = try await client.createContainer(spec(runtime, volume: volume)).id
                    try await client.startContainer(id)
                }
                try await client.removeContainer(id, force: true, volumes: true)
                try? await client.removeVolume(name: volume, force: true)
            }
            for runtime in runtimes {
                let container = running[runtime]!
                try await recorder.time("\(runtime) exec") {
                    _ = try await client.exec(in: container, policy.confined(ExecSpec(cmd: ["true"]), runtime: runtime))
                }
                try await recorder.time("\(runtime) pause+unpause") {
                    try await client.pauseContainer(container)
                    try await client.unpauseContainer(container)
                }
                try await recorder.time("\(runtime) cpu") { try await shell(container, runtime, cpu) }
                try await recorder.time("\(runtime) io") { try await shell(container, runtime, io) }
            }
        }
        for runtime in runtimes {
            try await client.removeContainer(running[runtime]!, force: true, volumes: true)
            try? await client.removeVolume(name: "\(node)-rt-\(runtime)", force: true)
        }

        var medians: [String: [String: Double]] = [:]
        for (name, values) in recorder.samples {
            let parts = name.split(separator: " ", maxSplits: 1).map(String.init)
            medians[parts[0], default: [:]][parts[1]] = Self.median(values)
        }
        print("\nRuntimes, median of \(iterations) (ms) — the same sandbox under runc and gVisor (runsc, ptrace platform)")
        print("step".padding(toLength: 46, withPad: " ", startingAt: 0) + "runc       runsc      runsc/runc")
        for (label, key) in Self.runtimeSteps {
            guard let runc = medians["runc"]?[key], let runsc = medians["runsc"]?[key] else { continue }
            print(label.padding(toLength: 46, withPad: " ", startingAt: 0) + String(format: "%-10.2f %-10.2f %.2f", runc, runsc, runsc / runc))
        }
        return medians
    }
}
