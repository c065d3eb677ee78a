import DockerEngine
import Foundation
import KnifyTestSupport
import SandboxPolicy
import Testing

/// The escape suite (`knify-probe` in the offline image) inside real sandboxes built from the shipped policies, under
/// runc and gVisor: every attempt must be blocked (under gVisor a resource bomb may end its whole sandbox instead).
/// Serialized: each case sets off memory and fork bombs, and four at once on a small machine starve the engine the
/// other suites are using (its pause state lagged behind under that load).
@Suite("Escape suite under the shipped policies", .serialized)
struct EscapeSuiteTests {
    let client = TestEngine.client

    struct ProbeResult: Decodable {
        let check: String
        let blocked: Bool
        let detail: String
    }

    /// Every shipped policy under each runtime: runc (the host kernel behind seccomp) and runsc (gVisor's user-space
    /// kernel). The engine must offer runsc (`make engine` registers it); a missing one fails here, not skipped.
    /// Commands go in as Knify sends them (`Policy.confined`): under runsc through `knify-confine`, since runsc
    /// does not put the container's seccomp filter on execs.
    @Test("every escape attempt is blocked, under runc and under gVisor", .timeLimit(.minutes(10)),
          arguments: ["default", "strict"], ["runc", "runsc"])
    func escapes(policyName: String, runtime: String) async throws {
        let policy = try Policy.load(named: policyName, from: TestFixtures.policiesDirectory)
        let offered = Set(try await client.info().runtimes?.keys.map { $0 } ?? [])
        try #require(offered.contains(runtime), "the engine does not offer \(runtime): \(Policy.registrationHint(for: runtime))")
        let (results, kernel) = try await inSandbox(policy, runtime) { id in
            let kernel = try await client.exec(in: id, ExecSpec(cmd: ["cat", "/proc/version"])).stdoutText
            let run = try await client.exec(in: id, policy.confined(ExecSpec(cmd: ["knify-probe", "--json"] + Self.checks), runtime: runtime))
            return (try Self.decode(run.stdoutText), kernel)
        }
        // Which kernel answered proves which runtime ran: gVisor reports its own fixed Linux version, not the host's.
        let host = try String(contentsOfFile: "/proc/version", encoding: .utf8)
        if runtime == "runsc" {
            #expect(kernel != host && kernel.contains("Linux version 4.4.0"), "not gVisor: \(kernel)")
        } else {
            #expect(kernel == host, "not the host kernel: \(kernel)")
        }
        #expect(results.map(\.check) == Self.checks)
        for result in results {
            #expect(result.blocked, "\(policyName) under \(runtime): \(result.check) was allowed: \(result.detail)")
        }
        for bomb in Self.bombs {
            switch try await inSandbox(policy, runtime, { try await bombOutcome(bomb, in: $0, policy: policy, runtime: runtime) }) {
            case .reported(let result):
                #expect(result.check == bomb && result.blocked, "\(policyName) under \(runtime): \(bomb) was allowed: \(result.detail)")
            case .sandboxDied(let state):
                // Under gVisor the limits hold around the whole sandbox: the cgroup's OOM killer takes the sentry at
                // the memory limit, and the sentry dies when the pids limit refuses it a thread (gVisor issue 2490).
                // Contained — the host and other sandboxes are untouched — at the price of that sandbox. runc's
                // limits stop the process instead, so there the probe must report.
                #expect(runtime == "runsc", "\(policyName) under \(runtime): the sandbox died in \(bomb): \(state)")
            }
        }
    }

    /// A started container of the policy under the runtime, with its own workspace volume, removed afterwards.
    func inSandbox<T>(_ policy: Policy, _ runtime: String, _ body: (String) async throws -> T) async throws -> T {
        try await TestEngine.withVolume { volume in
            var spec = TestEngine.idleSpec(hostConfig: policy.hostConfig(workspaceVolume: volume, runtime: runtime))
            spec.user = policy.user
            return try await TestEngine.withContainer(spec, body)
        }
    }

    /// The resource bombs, each alone in a sandbox of its own (under gVisor the sandbox may not survive one).
    static let bombs = ["memory_bomb", "fork_bomb"]
    /// Every other check, in the probe's order (`knify-probe --list`).
    static let checks = ["mount", "unshare_user", "unshare_mount", "setns", "ptrace_attach", "keyctl", "bpf",
                         "perf_event_open", "userfaultfd", "io_uring_setup", "raw_socket", "write_rootfs",
                         "chroot_escape", "docker_socket", "setuid_root", "proc_sys_write", "sysrq_trigger",
                         "kernel_module", "set_clock", "reboot", "disk_fill", "cap_eff",
                         "no_new_privs", "seccomp_mode"]

    static func decode(_ lines: String) throws -> [ProbeResult] {
        try lines.split(separator: "\n").map { try JSONDecoder().decode(ProbeResult.self, from: Data($0.utf8)) }
    }

    enum BombOutcome {
        case reported(ProbeResult)
        case sandboxDied(String)
    }

    /// Either the probe reports, or the sandbox ends (the engine's wait answers): whichever comes first decides,
    /// since the exec stream of a gVisor sandbox that died does not close.
    func bombOutcome(_ check: String, in container: String, policy: Policy, runtime: String) async throws -> BombOutcome {
        let spec = policy.confined(ExecSpec(cmd: ["knify-probe", "--json", check]), runtime: runtime)
        return try await withThrowingTaskGroup(of: BombOutcome.self) { group in
            @Sendable func ended() async throws -> BombOutcome {
                let ended = try await client.waitContainer(container)
                let state = try await client.inspectContainer(container).state
                return .sandboxDied("exit \(ended.statusCode), OOM-killed \(state.oomKilled)")
            }
            group.addTask {
                let run = try await client.exec(in: container, spec)
                if let report = try Self.decode(run.stdoutText).first { return .reported(report) }
                // No report: under gVisor the exec fails as the sandbox's kernel goes away ("WaitPID failed: EOF"),
                // before the container is seen to end; the wait below then answers. runc has no such path.
                guard runtime == "runsc" else {
                    return .reported(ProbeResult(check: check, blocked: false, detail: "no report (exit \(run.exitCode)): \(run.stderrText)"))
                }
                return try await ended()
            }
            group.addTask { try await ended() }
            defer { group.cancelAll() }
            return try await group.next() ?? .sandboxDied("no outcome")
        }
    }

    @Test("a policy preferring gVisor runs under it where the engine offers it, and one requiring an absent runtime fails before create")
    func runtimeChoice() async throws {
        let strict = try Policy.load(named: "strict", from: TestFixtures.policiesDirectory)
        #expect(strict.runtimes == ["runsc", "runc"])
        #expect(strict.runtime(offered: ["runc", "runsc"]) == "runsc")
        #expect(strict.runtime(offered: ["runc"]) == "runc")
        let offered = Set(try await client.info().runtimes?.keys.map { $0 } ?? [])
        #expect(strict.runtime(offered: offered) == "runsc", "make engine registers runsc: \(offered.sorted())")
    }
}
