import ArgumentParser
import DockerEngine
import Foundation
import Logging
import SandboxPolicy
import Sandboxes
import Storage

/// What every sandbox command needs: the store and engine `knify serve` uses, the policies, and the node whose
/// sandboxes it manages (the server's `--node-id`).
struct SandboxOptions: ParsableArguments {
    @OptionGroup var store: StoreOptions
    @OptionGroup var engine: EngineOptions
    @Option(help: "Folder of policy files (default: $KNIFY_POLICIES, else Policies).") var policies: String?
    @Option(name: .customLong("node-id"), help: "The node whose sandboxes to manage (default: $KNIFY_NODE_ID, else local).")
    var nodeId: String?

    var node: String { nodeId ?? ProcessInfo.processInfo.environment["KNIFY_NODE_ID"] ?? "local" }

    /// `warmPool`: pooled sandboxes to keep per policy (`pool fill`); none otherwise.
    func manager(warmPool: [String: Int] = [:]) async throws -> SandboxManager {
        let environment = ProcessInfo.processInfo.environment
        let loaded = try Policy.loadAll(from: policies ?? environment["KNIFY_POLICIES"] ?? "Policies")
        // Warnings and errors only: the command's own output says what happened.
        var logger = Logger(label: "knify-sandbox")
        logger.logLevel = .warning
        return SandboxManager(client: try engine.client(), store: try await store.open(), configuration: .init(
            image: environment["KNIFY_IMAGE"] ?? SandboxImage.defaultTag, node: node, policies: loaded,
            defaultPolicy: loaded["default"] != nil ? "default" : loaded.keys.sorted().first ?? "default",
            warmPool: warmPool), logger: logger)
    }
}

/// A sandbox as listings show it.
struct SandboxView: Encodable {
    var id: String
    var job: String?
    var session: String?
    var state: String
    var policy: String
    var node: String
    var createdAt: String
    var ageSeconds: Int
    var idleSeconds: Int
    var cpuSeconds: Double?
    var memoryBytes: UInt64?

    enum CodingKeys: String, CodingKey {
        case id, job, session, state, policy, node, createdAt = "created_at", ageSeconds = "age_seconds"
        case idleSeconds = "idle_seconds", cpuSeconds = "cpu_seconds", memoryBytes = "memory_bytes"
    }

    init(_ record: SandboxRecord, stats: ContainerStats?, now: Date = Date()) {
        id = record.id
        job = record.jobId
        session = record.sessionId
        state = record.state.rawValue
        policy = record.policy
        node = record.node
        createdAt = isoString(record.createdAt)
        ageSeconds = Int(now.timeIntervalSince(record.createdAt))
        idleSeconds = Int(now.timeIntervalSince(record.lastUsedAt))
        cpuSeconds = stats.map { Double($0.cpuNanoseconds) / 1e9 }
        memoryBytes = stats?.memoryBytes
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(job, forKey: .job)
        try container.encode(session, forKey: .session)
        try container.encode(state, forKey: .state)
        try container.encode(policy, forKey: .policy)
        try container.encode(node, forKey: .node)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(ageSeconds, forKey: .ageSeconds)
        try container.encode(idleSeconds, forKey: .idleSeconds)
        try container.encode(cpuSeconds, forKey: .cpuSeconds)
        try container.encode(memoryBytes, forKey: .memoryBytes)
    }

    var row: [String] {
        [id, job ?? "-", session ?? "-", state, policy, Self.duration(ageSeconds), Self.duration(idleSeconds),
         cpuSeconds.map { String(format: "%.1fs", $0) } ?? "-", memoryBytes.map { "\($0 >> 20)MiB" } ?? "-"]
    }

    static func duration(_ seconds: Int) -> String {
        seconds < 120 ? "\(seconds)s" : seconds < 7200 ? "\(seconds / 60)m" : "\(seconds / 3600)h"
    }
}

struct ListSandboxes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List the node's live sandboxes: id, job, session, state, policy, age, idle, cpu, memory.")
    @Flag(help: "Print a JSON array.") var json = false
    @OptionGroup var options: SandboxOptions

    func run() async throws {
        do {
            let manager = try await options.manager()
            let client = try options.engine.client()
            // Like `docker ps`: no engine, no listing (exit 3), rather than records that may no longer be true.
            _ = try await client.apiVersion()
            // Stats one container at a time would cost a second or more each on some engines: ask for all at once.
            let records = try await manager.liveRecords()
            let stats = await withTaskGroup(of: (String, ContainerStats?).self) { group in
                for record in records {
                    group.addTask { (record.id, try? await client.containerStats(record.containerName)) }
                }
                return await group.reduce(into: [String: ContainerStats]()) { $0[$1.0] = $1.1 }
            }
            let views = records.map { SandboxView($0, stats: stats[$0.id]) }
            if json { return try printJSON(views) }
            printTable(["ID", "JOB", "SESSION", "STATE", "POLICY", "AGE", "IDLE", "CPU", "MEM"], views.map(\.row))
        } catch let error as ExitCode {
            throw error
        } catch {
            throw fail(error)
        }
    }
}

struct InspectSandbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect",
                                                    abstract: "Show a sandbox's record and its container's state as JSON.")
    @Argument(help: "A sandbox id (sbx_…).") var id: String
    @OptionGroup var options: SandboxOptions

    struct Inspection: Encodable {
        var sandbox: SandboxView
        var container: String
        var containerState: String?
        var endReason: String?
        enum CodingKeys: String, CodingKey {
            case sandbox, container, containerState = "container_state", endReason = "end_reason"
        }
        func encode(to encoder: any Encoder) throws {
            var values = encoder.container(keyedBy: CodingKeys.self)
            try values.encode(sandbox, forKey: .sandbox)
            try values.encode(container, forKey: .container)
            try values.encode(containerState, forKey: .containerState)
            try values.encode(endReason, forKey: .endReason)
        }
    }

    func run() async throws {
        do {
            guard let record = try await options.manager().sandbox(id) else { throw SandboxError(.notFound, "no sandbox \(id)") }
            let client = try options.engine.client()
            let details = try? await client.inspectContainer(record.containerName)
            let stats = record.isLive ? try? await client.containerStats(record.containerName) : nil
            try printJSON(Inspection(sandbox: SandboxView(record, stats: stats), container: record.containerName,
                                     containerState: details?.state.status, endReason: record.endReason))
        } catch {
            throw fail(error)
        }
    }
}

struct ExecInSandbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec", abstract: "Run a command in an active sandbox, streaming its output; exits with its code.",
        discussion: "Example: knify-sandbox exec sbx_AbC -- ls -la /workspace")
    @Argument(help: "A sandbox id (sbx_…).") var id: String
    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String]
    @OptionGroup var options: SandboxOptions

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command after --, e.g. exec \(id) -- ls") }
    }

    func run() async throws {
        let exitCode: Int
        do {
            let manager = try await options.manager()
            let execution = try await manager.exec(id, ExecSpec(cmd: command, workingDir: "/workspace"))
            for try await chunk in execution.output {
                switch chunk {
                case .stdout(let bytes): FileHandle.standardOutput.write(Data(bytes))
                case .stderr(let bytes): FileHandle.standardError.write(Data(bytes))
                }
            }
            exitCode = try await manager.exitCode(of: execution)
        } catch {
            throw fail(error)
        }
        if exitCode != 0 { throw ExitCode(Int32(truncatingIfNeeded: exitCode)) }
    }
}

struct PauseSandbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Freeze sandboxes (a no-op for paused ones).")
    @Argument(help: "Sandbox ids.") var ids: [String]
    @OptionGroup var options: SandboxOptions

    func run() async throws {
        do {
            let manager = try await options.manager()
            for id in ids { print("\(try await manager.pause(id).id) paused") }
        } catch {
            throw fail(error)
        }
    }
}

struct UnpauseSandbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unpause", abstract: "Thaw sandboxes (a no-op for active ones).")
    @Argument(help: "Sandbox ids.") var ids: [String]
    @OptionGroup var options: SandboxOptions

    func run() async throws {
        do {
            let manager = try await options.manager()
            for id in ids { print("\(try await manager.resume(id).id) active") }
        } catch {
            throw fail(error)
        }
    }
}

struct RemoveSandboxes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Destroy sandboxes and their workspaces. Idempotent: removing a removed sandbox succeeds.",
        discussion: "Exit status 1 if an id is unknown (the others are still removed).")
    @Argument(help: "Sandbox ids.") var ids: [String]
    @OptionGroup var options: SandboxOptions

    func run() async throws {
        var failed: (any Error)?
        do {
            let manager = try await options.manager()
            for id in ids {
                do {
                    print("\(try await manager.destroy(id, reason: "knify-sandbox rm").id) removed")
                } catch {
                    failed = failed ?? error
                    var stderr = FileHandle.standardError
                    print("error: \(error)", to: &stderr)
                }
            }
        } catch {
            throw fail(error)
        }
        if let failed {
            if let error = failed as? SandboxError, error.code == .engineUnavailable { throw ExitStatus.engineUnavailable }
            throw ExitStatus.failure
        }
    }
}

struct ReconcileSandboxes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Match the engine with the store now: adopt known containers, remove unknown ones, mark vanished ones lost.")
    @Option(help: "Seconds an unknown container must have lived before it counts as an orphan.") var grace: Int = 60
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var options: SandboxOptions

    struct Report: Encodable {
        var adopted: [String]
        var removedOrphans: [String]
        var markedLost: [String]
        var removedStopped: [String]
        enum CodingKeys: String, CodingKey {
            case adopted, removedOrphans = "removed_orphans", markedLost = "marked_lost", removedStopped = "removed_stopped"
        }
    }

    func run() async throws {
        do {
            let report = try await options.manager().reconcile(grace: TimeInterval(grace))
            let view = Report(adopted: report.adopted, removedOrphans: report.removedOrphans, markedLost: report.markedLost,
                              removedStopped: report.removedStopped)
            if json { return try printJSON(view) }
            print("adopted \(view.adopted.count), orphans removed \(view.removedOrphans.count), lost \(view.markedLost.count), stopped removed \(view.removedStopped.count)")
        } catch {
            throw fail(error)
        }
    }
}
