import DockerEngine
import Foundation
import Logging
import SandboxPolicy
import Sandboxes
import Storage

extension KnifyBench {
    /// Throughput of `width` sandboxes created at once: the raw engine (create + start of the same container
    /// configuration, `width` requests in flight) against Knify's cold acquire, round by round, alternating. Answers
    /// sandboxes per second for both, from the median round.
    func measureParallelCreate(client: DockerClient, policy: Policy, node: String, width: Int, rounds: Int) async throws
        -> (raw: Double, knify: Double)
    {
        let labels = [SandboxManager.Label.node: node]
        var quiet = Logger(label: "knify.bench")
        quiet.logLevel = .warning
        let manager = SandboxManager(client: client, store: try SQLiteStore(),
                                     configuration: .init(node: node, policies: [self.policy: policy], defaultPolicy: self.policy),
                                     logger: quiet)
        var rawSeconds: [Double] = []
        var knifySeconds: [Double] = []
        for round in 0..<rounds {
            var began = ContinuousClock.now
            let containers = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<width {
                    group.addTask {
                        let spec = ContainerSpec(image: SandboxImage.defaultTag, cmd: ["sleep", "infinity"], user: policy.user,
                                                 labels: labels, stopSignal: "SIGKILL",
                                                 hostConfig: policy.hostConfig(workspaceVolume: "\(node)-par-\(round)-\(index)", volumeLabels: labels))
                        let id = try await client.createContainer(spec).id
                        try await client.startContainer(id)
                        return id
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            rawSeconds.append(Self.seconds(since: began))
            for id in containers { try await client.removeContainer(id, force: true, volumes: true) }
            for index in 0..<width { try? await client.removeVolume(name: "\(node)-par-\(round)-\(index)", force: true) }

            began = ContinuousClock.now
            let sandboxes = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<width { group.addTask { try await manager.acquire(.init()).record.id } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            knifySeconds.append(Self.seconds(since: began))
            for id in sandboxes { try await manager.destroy(id) }
        }
        return (Double(width) / Self.median(rawSeconds), Double(width) / Self.median(knifySeconds))
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
