import ArgumentParser
import DockerEngine
import Foundation
import SandboxPolicy
import Sandboxes
import Storage

struct SandboxLogs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs",
                                                    abstract: "Print a sandbox container's output (-f follows it).")
    @Argument(help: "A sandbox id (sbx_…).") var id: String
    @Flag(name: .shortAndLong, help: "Keep following new output.") var follow = false
    @Option(help: "Only the last N lines.") var tail: Int?
    @OptionGroup var options: SandboxOptions

    func run() async throws {
        do {
            guard let record = try await options.manager().sandbox(id) else { throw SandboxError(.notFound, "no sandbox \(id)") }
            for try await chunk in try await options.engine.client().containerLogs(record.containerName, follow: follow, tail: tail) {
                switch chunk {
                case .stdout(let bytes): FileHandle.standardOutput.write(Data(bytes))
                case .stderr(let bytes): FileHandle.standardError.write(Data(bytes))
                }
            }
        } catch {
            throw fail(error)
        }
    }
}

struct PoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool", abstract: "The warm pool: sandboxes started ahead of demand.",
        discussion: "Pooled sandboxes are ordinary records marked pooled, so the server adopts what fill made.",
        subcommands: [Status.self, Fill.self, Drain.self])

    struct Entry: Encodable {
        var policy: String
        var ready: Int
    }

    /// Ready pooled sandboxes per policy, from the store.
    static func status(_ manager: SandboxManager) async throws -> [Entry] {
        let pooled = try await manager.liveRecords().filter { $0.pooled && $0.state == .active }
        return Dictionary(grouping: pooled, by: \.policy).map { Entry(policy: $0.key, ready: $0.value.count) }
            .sorted { $0.policy < $1.policy }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ready pooled sandboxes per policy.")
        @Flag(help: "Print a JSON array.") var json = false
        @OptionGroup var options: SandboxOptions

        func run() async throws {
            do {
                let entries = try await PoolCommand.status(try await options.manager())
                if json { return try printJSON(entries) }
                printTable(["POLICY", "READY"], entries.map { [$0.policy, String($0.ready)] })
            } catch {
                throw fail(error)
            }
        }
    }

    struct Fill: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start sandboxes until the policy's pool holds --size.")
        @Option(help: "Pooled sandboxes to have ready.") var size: Int
        @Option(help: "The policy of the pooled sandboxes.") var policy = "default"
        @OptionGroup var options: SandboxOptions

        func validate() throws {
            guard (1...64).contains(size) else { throw ValidationError("--size must be between 1 and 64") }
        }

        func run() async throws {
            do {
                let manager = try await options.manager(warmPool: [policy: size])
                _ = try await manager.reconcile()  // adopts the pooled sandboxes already there
                var stderr = FileHandle.standardError
                print("filling the \(policy) pool to \(size)…", to: &stderr)
                await manager.fillPool()
                let ready = try await PoolCommand.status(manager).first { $0.policy == policy }?.ready ?? 0
                print("\(policy): \(ready) ready")
                if ready < size { throw ExitStatus.failure }
            } catch let exit as ExitCode {
                throw exit
            } catch {
                throw fail(error)
            }
        }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Destroy every pooled sandbox of the node.")
        @OptionGroup var options: SandboxOptions

        func run() async throws {
            do {
                let manager = try await options.manager()
                var drained = 0
                for record in try await manager.liveRecords() where record.pooled {
                    _ = try await manager.destroy(record.id, reason: "pool drained")
                    drained += 1
                }
                print("drained \(drained)")
            } catch {
                throw fail(error)
            }
        }
    }
}

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that this machine can run Knify, and say how to fix what cannot.",
        discussion: "Exit status 0 when every check passes, 3 when the engine does not answer, 1 for any other failure.")
    @OptionGroup var options: SandboxOptions
    @Flag(help: "Print a JSON array of {check, ok, detail, fix}.") var json = false

    struct Check: Encodable {
        var check: String
        var ok: Bool
        var detail: String
        var fix: String?
    }

    func run() async throws {
        var checks: [Check] = []
        var engineDown = false
        let environment = ProcessInfo.processInfo.environment
        do {
            let client = try options.engine.client()
            let version = try await client.apiVersion()
            checks.append(Check(check: "engine", ok: true, detail: "answers, API \(version)"))
            let info = try await client.info()
            checks.append(Check(check: "seccomp", ok: info.seccompEnabled,
                                detail: info.seccompEnabled ? "supported" : "the engine reports no seccomp support",
                                fix: "run a kernel and engine built with seccomp (Debian's are)"))
            let limits = ["memory": info.memoryLimit, "cpu quota": info.cpuCfsQuota, "pids": info.pidsLimit]
            let missing = limits.filter { $0.value != true }.keys.sorted()
            checks.append(Check(check: "cgroups", ok: missing.isEmpty,
                                detail: missing.isEmpty ? "memory, cpu quota and pids limits apply (cgroup \(info.cgroupVersion ?? "?"))"
                                    : "the engine cannot limit: \(missing.joined(separator: ", "))",
                                fix: "enable those cgroup controllers (kernel command line or systemd), then restart dockerd"))
            checks.append(runtimes(offered: Set(info.runtimes?.keys.map { $0 } ?? ["runc"]),
                                   policiesDirectory: options.policies ?? environment["KNIFY_POLICIES"] ?? "Policies"))
            let image = environment["KNIFY_IMAGE"] ?? SandboxImage.defaultTag
            let present = (try? await client.inspectImage(image)) != nil
            checks.append(Check(check: "image", ok: present, detail: present ? "\(image) present" : "\(image) is missing",
                                fix: "knify-sandbox image build (or make image)"))
        } catch {
            engineDown = true
            checks.append(Check(check: "engine", ok: false, detail: "\(error)",
                                fix: "start an engine (make engine) or point DOCKER_HOST / --docker-host at one"))
        }
        do {
            _ = try await options.store.open().apiKeys()
            checks.append(Check(check: "store", ok: true, detail: "readable"))
        } catch {
            checks.append(Check(check: "store", ok: false, detail: "\(error)",
                                fix: "check --data-dir / KNIFY_DATA_DIR and its permissions"))
        }
        let directory = options.store.dataDir ?? environment["KNIFY_DATA_DIR"] ?? ".knify/data"
        if let free = (try? FileManager.default.attributesOfFileSystem(forPath: directory))?[.systemFreeSize] as? NSNumber {
            let gib = free.doubleValue / Double(1 << 30)
            checks.append(Check(check: "disk", ok: gib >= 2, detail: String(format: "%.1f GiB free under %@", gib, directory),
                                fix: "free space: sandboxes, images and the store need at least 2 GiB"))
        }
        if json {
            try printJSON(checks)
        } else {
            for check in checks {
                print("\(check.ok ? "ok  " : "FAIL") \(check.check): \(check.detail)")
                if !check.ok, let fix = check.fix { print("     fix: \(fix)") }
            }
        }
        if engineDown { throw ExitStatus.engineUnavailable }
        if checks.contains(where: { !$0.ok }) { throw ExitStatus.failure }
    }

    /// Which runtimes the engine offers, and which one each policy will run under (gVisor where it prefers it).
    func runtimes(offered: Set<String>, policiesDirectory: String) -> Check {
        let policies = ((try? Policy.loadAll(from: policiesDirectory)) ?? [:]).values.sorted { $0.name < $1.name }
        let chosen = policies.map { ($0, $0.runtime(offered: offered)) }
        let usage = chosen.map { "\($0.0.name) → \($0.1 ?? "none")" }.joined(separator: ", ")
        let detail = "the engine offers \(offered.sorted().joined(separator: ", ")); \(usage)"
        if let stuck = chosen.first(where: { $0.1 == nil })?.0 {
            return Check(check: "runtimes", ok: false, detail: detail, fix: Policy.registrationHint(for: stuck.runtimes[0]))
        }
        // A policy that prefers gVisor but falls back still runs; say how to get the stronger one.
        if let fallback = chosen.first(where: { $0.1 != $0.0.runtimes.first })?.0 {
            return Check(check: "runtimes", ok: true, detail: detail + " (\(fallback.name) would prefer \(fallback.runtimes[0]): "
                + Policy.registrationHint(for: fallback.runtimes[0]) + ")")
        }
        return Check(check: "runtimes", ok: true, detail: detail)
    }
}

struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove what no job can use: orphan containers (labelled for this node, unknown to the store), stopped "
            + "sandboxes, and sandboxes past their idle TTL or lifetime.",
        discussion: "--dry-run lists what would go and changes nothing.")
    @Flag(name: .customLong("dry-run"), help: "Only list what would be removed.") var dryRun = false
    @Option(help: "Seconds an unknown container must have lived before it counts as an orphan.") var grace: Int = 60
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var options: SandboxOptions

    struct Expired: Encodable {
        var id: String
        var reason: String
    }

    struct Report: Encodable {
        var dryRun: Bool
        var orphans: [String]
        var stopped: [String]
        var lost: [String]
        var expired: [Expired]
        enum CodingKeys: String, CodingKey { case dryRun = "dry_run", orphans, stopped, lost, expired }
    }

    func run() async throws {
        do {
            let manager = try await options.manager()
            if !dryRun && !json {
                var stderr = FileHandle.standardError
                print("pruning the sandboxes of node \(options.node)…", to: &stderr)
            }
            let reconciled = try await manager.reconcile(grace: TimeInterval(grace), dryRun: dryRun)
            let expired = try await manager.reap(dryRun: dryRun).map { Expired(id: $0.id, reason: $0.endReason ?? "") }
            let report = Report(dryRun: dryRun, orphans: reconciled.removedOrphans, stopped: reconciled.removedStopped,
                                lost: reconciled.markedLost, expired: expired)
            if json { return try printJSON(report) }
            let verb = dryRun ? "would remove" : "removed"
            for id in report.orphans { print("\(verb) orphan \(id)") }
            for id in report.stopped { print("\(verb) stopped \(id)") }
            for id in report.lost { print("\(dryRun ? "would mark" : "marked") lost \(id)") }
            for entry in report.expired { print("\(verb) expired \(entry.id) (\(entry.reason))") }
            if report.orphans.isEmpty && report.stopped.isEmpty && report.lost.isEmpty && report.expired.isEmpty {
                print("nothing to prune")
            }
        } catch {
            throw fail(error)
        }
    }
}
