import ArgumentParser
import DockerEngine
import Foundation
import Logging
import SandboxPolicy
import Sandboxes
import Storage

/// `make bench`'s measuring tool: the sandbox and job benchmarks (the default command) and the SSE clients that
/// bench/http_bench.py starts.
@main
struct KnifyBenchTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knify-bench",
        abstract: "Measure Knify against the raw Docker Engine API in one run.",
        subcommands: [KnifyBench.self, SSEFanOut.self],
        defaultSubcommand: KnifyBench.self
    )
}

/// Knify's sandbox operations next to the raw Engine API calls they are built on, measured in the same run on the
/// same socket, reported as medians and ratios.
struct KnifyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandboxes",
        abstract: "Measure Knify's sandbox and job operations against the raw Docker Engine API in one run."
    )

    @Option(help: "Repetitions per measurement (the median is reported).") var iterations = 15
    @Option(help: "Policy to create sandboxes from.") var policy = "default"
    @Option(help: "The policies folder.") var policies = "Policies"
    @Option(help: "Write the results as JSON here.") var output = "bench/results/latest.json"
    @Flag(inversion: .prefixedNo, help: "Also measure jobs (submit, warm start, continue, full lifecycle).") var jobs = true
    @Flag(inversion: .prefixedNo, help: "Also compare runc with gVisor (runsc) on the same sandbox.") var runtimes = true
    @Option(help: "JSON from bench/dockerpy_lifecycle.py, to compare the full lifecycle against.") var dockerpy: String?
    @Option(help: "Sandboxes created at once for the parallel-create throughput (0 skips it).") var parallel = 8
    @Option(help: "Rounds of the parallel create (the median round counts).") var parallelRounds = 5

    func run() async throws {
        let client = try DockerClient(environment: ProcessInfo.processInfo.environment)
        let loaded = try Policy.load(named: policy, from: policies)
        let node = "knify-bench-\(UUID().uuidString.prefix(8).lowercased())"
        let recorder = Recorder()
        func time(_ name: String, _ body: () async throws -> Void) async throws { try await recorder.time(name, body) }

        // Raw Engine API: the same container configuration Knify creates (its own workspace volume included),
        // without Knify around it. Raw and Knify steps alternate so drift in the machine hits both alike.
        let labels = [SandboxManager.Label.node: node]
        func rawSpec(_ volume: String) -> ContainerSpec {
            ContainerSpec(image: SandboxImage.defaultTag, cmd: ["sleep", "infinity"], user: loaded.user, labels: labels,
                          stopSignal: "SIGKILL", hostConfig: loaded.hostConfig(workspaceVolume: volume, volumeLabels: labels))
        }
        let running = try await client.createContainer(rawSpec("\(node)-raw"), name: "\(node)-raw-exec").id
        try await client.startContainer(running)

        var quiet = Logger(label: "knify.bench")
        quiet.logLevel = .warning
        let cold = SandboxManager(client: client, store: try SQLiteStore(),
                                  configuration: .init(node: node, policies: [policy: loaded], defaultPolicy: policy),
                                  logger: quiet)
        let warm = SandboxManager(client: client, store: try SQLiteStore(),
                                  configuration: .init(node: node, policies: [policy: loaded], defaultPolicy: policy,
                                                       warmPool: [policy: 1]),
                                  logger: quiet)
        for index in 0..<iterations {
            var id = ""
            let volume = "\(node)-raw-\(index)"
            try await time("raw create+start") {
                id = try await client.createContainer(rawSpec(volume)).id
                try await client.startContainer(id)
            }
            try await time("raw remove") {
                try await client.removeContainer(id, force: true, volumes: true)
                try await client.removeVolume(name: volume, force: true)
            }

            var record: SandboxRecord?
            try await time("knify cold acquire") { record = try await cold.acquire(.init()).record }
            guard let sandbox = record else { continue }

            try await time("raw exec") { _ = try await client.exec(in: running, "true") }
            try await time("knify exec") { _ = try await cold.run(sandbox.id, ExecSpec(cmd: ["true"]), timeout: .seconds(60)) }

            try await time("raw pause+unpause") {
                try await client.pauseContainer(running)
                try await client.unpauseContainer(running)
            }
            try await time("knify pause+resume") {
                try await cold.pause(sandbox.id)
                try await cold.resume(sandbox.id)
            }
            try await time("knify destroy") { try await cold.destroy(sandbox.id) }

            await warm.fillPool()
            try await time("raw exec (warm pair)") { _ = try await client.exec(in: running, "true") }
            try await time("knify warm acquire+first exec") {
                let taken = try await warm.acquire(.init()).record
                record = taken
                _ = try await warm.run(taken.id, ExecSpec(cmd: ["true"]), timeout: .seconds(60))
            }
            if let record { try await warm.destroy(record.id) }
            await warm.fillPool()  // let the refill finish here, not during the next raw measurement
        }
        await warm.drainPool()
        try await client.removeContainer(running, force: true, volumes: true)
        try? await client.removeVolume(name: "\(node)-raw", force: true)

        if jobs { try await measureJobs(client: client, policy: loaded, node: node, recorder: recorder) }
        var medians = recorder.samples.mapValues(Self.median)
        if let dockerpy, let data = FileManager.default.contents(atPath: dockerpy),
           let object = try JSONSerialization.jsonObject(with: data) as? [String: Any], let median = object["median_ms"] as? Double {
            medians["docker-py lifecycle"] = median
        }
        let comparisons: [(String, String, String, Double?)] = [
            ("cold acquire", "knify cold acquire", "raw create+start", nil),
            ("warm acquire + first exec", "knify warm acquire+first exec", "raw exec (warm pair)", 1.1),
            ("exec", "knify exec", "raw exec", nil),
            ("pause + resume", "knify pause+resume", "raw pause+unpause", nil),
            ("destroy (container + workspace volume)", "knify destroy", "raw remove", nil),
            ("job start, cold (submit → first agent event)", "knify job cold start", "raw create+start+exec first byte", 1.1),
            ("job start, warm pool", "knify job warm start", "raw exec first byte", 1.1),
            ("continue (→ first agent event)", "knify continue start", "raw unpause+exec first byte", 1.15),
            ("full job lifecycle, cold (vs raw API)", "knify job lifecycle", "raw full cycle", nil),
            ("full job lifecycle, cold (vs docker-py)", "knify job lifecycle", "docker-py lifecycle", nil),
            ("full job lifecycle, warm pool (vs docker-py)", "knify job lifecycle warm", "docker-py lifecycle", 0.9),
        ]
        print("Sandbox operations, median of \(iterations) (ms) — policy \(policy), engine \(try await client.version().version)")
        print("operation".padding(toLength: 46, withPad: " ", startingAt: 0) + "knify      baseline   ratio   goal")
        var rows: [[String: Any]] = []
        for (label, knify, raw, goal) in comparisons {
            guard let k = medians[knify], let r = medians[raw] else { continue }
            let ratio = k / r
            let goalText = goal.map { ratio <= $0 ? "≤ \($0) met" : "≤ \($0) MISSED" } ?? ""
            print(label.padding(toLength: 46, withPad: " ", startingAt: 0)
                  + String(format: "%-10.2f %-10.2f %-7.2f ", k, r, ratio) + goalText)
            rows.append(["operation": label, "knify_ms": k, "raw_ms": r, "ratio": ratio, "goal": goal as Any])
        }
        var parallelRates: [String: Double] = [:]
        if parallel > 0 {
            let rates = try await measureParallelCreate(client: client, policy: loaded, node: node, width: parallel, rounds: parallelRounds)
            parallelRates = ["raw_per_s": rates.raw, "knify_per_s": rates.knify, "width": Double(parallel)]
            let ratio = rates.knify / rates.raw
            print("\(parallel)-way parallel create (sandboxes/s)".padding(toLength: 46, withPad: " ", startingAt: 0)
                  + String(format: "%-10.2f %-10.2f %-7.2f ", rates.knify, rates.raw, ratio) + (ratio >= 0.9 ? "≥ 0.9 met" : "≥ 0.9 MISSED"))
            rows.append(["operation": "\(parallel)-way parallel create (sandboxes/s, higher is better)", "knify_ms": rates.knify,
                         "raw_ms": rates.raw, "ratio": ratio, "goal": 0.9, "higher_is_better": true])
        }
        let runtimeMedians = runtimes ? try await measureRuntimes(client: client, policy: loaded, node: node) : [:]
        let document: [String: Any] = [
            "date": ISO8601DateFormatter().string(from: Date()), "iterations": iterations, "policy": policy,
            "medians_ms": medians, "comparisons": rows, "runtimes_ms": runtimeMedians, "parallel_create": parallelRates,
        ]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        try FileManager.default.createDirectory(atPath: (output as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: output))
        print("wrote \(output)")
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted.count % 2 == 1 ? sorted[sorted.count / 2]
            : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

/// Collects timings by name.
final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: [Double]] = [:]

    var samples: [String: [Double]] { lock.withLock { values } }

    func time(_ name: String, _ body: () async throws -> Void) async throws {
        let start = ContinuousClock.now
        try await body()
        record(name, since: start)
    }

    func record(_ name: String, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        lock.withLock { values[name, default: []].append(ms) }
    }
}
