import ArgumentParser
import DockerEngine
import Foundation
import SandboxPolicy

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check and explain sandbox policies.",
        subcommands: [Lint.self, Show.self, TestPolicy.self]
    )

    struct Lint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate policy files: every error names the file, the field and the value.",
            discussion: "Exit status 0 when every file is valid (warnings allowed), 1 otherwise."
        )

        @Argument(help: "Policy files (Policies/*.json).") var files: [String]
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            var rows: [[String: Any]] = []
            var failed = false
            for file in files {
                do {
                    let policy = try Policy.load(file: file)
                    rows.append(["file": file, "valid": true, "warnings": policy.warnings.map(\.description)])
                    if !json {
                        print("ok    \(file)")
                        for warning in policy.warnings { print("  warning: \(warning.field): \(warning.message)") }
                    }
                } catch {
                    failed = true
                    rows.append(["file": file, "valid": false, "field": error.field, "value": error.value ?? "",
                                 "error": error.message])
                    if !json { print("error \(error)") }
                }
            }
            if json { try printJSON(rows) }
            if failed { throw ExitStatus.failure }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a policy's effective container settings and its compiled seccomp filter (PFC, via libseccomp)."
        )

        @Argument(help: "Policy name (a file in the policies folder).") var name: String
        @Option(help: "The policies folder.") var policies = "Policies"
        @Flag(help: "Print the HostConfig as JSON instead of a summary.") var json = false
        @Flag(help: "Leave out the compiled filter.") var noFilter = false

        func run() async throws {
            let policy: Policy
            do {
                policy = try Policy.load(named: name, from: policies)
            } catch {
                throw fail(error)
            }
            var host = policy.hostConfig(workspaceVolume: "knify-ws-<sandbox id>")
            // The inline profile is long; the summary names its file instead.
            host.securityOpt = host.securityOpt?.map { $0.hasPrefix("seccomp=") ? "seccomp=<\(policy.seccompFile)>" : $0 }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(host), as: UTF8.self))
            } else {
                print("""
                    policy        \(policy.name) (\(policy.file))
                    description   \(policy.description)
                    runtime       \(policy.runtimes.joined(separator: " (else ") + String(repeating: ")", count: policy.runtimes.count - 1))
                    user          \(policy.user)
                    capabilities  drop \(policy.capDrop.joined(separator: ",")); add \(policy.capAdd.isEmpty ? "none" : policy.capAdd.joined(separator: ","))
                    privileges    no-new-privileges \(policy.noNewPrivileges ? "on" : "OFF"); read-only root \(policy.readOnlyRoot ? "on" : "OFF")
                    limits        memory \(policy.memoryBytes >> 20) MiB (no swap), cpus \(Double(policy.nanoCpus) / 1e9), pids \(policy.pidsLimit)
                    workspace     \(policy.workspacePath) (volume)
                    tmpfs         \(policy.tmpfs.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: "; "))
                    network       \(policy.network.rawValue)
                    lifetime      idle \(policy.idleTTL)s, max \(policy.maxLifetime)s
                    seccomp       \(policy.seccompFile)
                    """)
                for warning in policy.warnings { print("warning: \(warning.field): \(warning.message)") }
            }
            if !noFilter {
                do {
                    let compiled = try policy.seccomp.compile(file: policy.seccompFile, capabilities: policy.effectiveCapabilities)
                    print("\n# compiled filter for this machine (\(compiled.bpf.count / 8) BPF instructions)")
                    print(compiled.pfc)
                } catch {
                    throw fail(error)
                }
            }
        }
    }
}

func printJSON(_ value: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}

/// `policy test NAME`: the escape suite (`knify-probe`, in the sandbox image) inside a live sandbox of the policy.
struct TestPolicy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run the escape suite in a fresh sandbox of a policy and print what was blocked and what was allowed.",
        discussion: """
            The sandbox is destroyed afterwards. Exit status 0 when every attempt was blocked, 1 otherwise. The whole \
            suite includes fork, memory and disk bombs and takes up to a few minutes; --check runs some checks only \
            (knify-probe --list in the image names them).
            """)
    @Argument(help: "The policy name (Policies/NAME.json).") var name: String
    @Option(help: "Run only this check (repeatable).") var check: [String] = []
    @Flag(help: "Print a JSON array of {check, blocked, detail}.") var json = false
    @OptionGroup var options: SandboxOptions

    struct Result: Codable {
        var check: String
        var blocked: Bool
        var detail: String
    }

    func run() async throws {
        let results: [Result]
        do {
            let manager = try await options.manager()
            guard manager.configuration.policies[name] != nil else {
                throw ValidationError("no policy \(name); available: \(manager.configuration.policies.keys.sorted().joined(separator: ", "))")
            }
            var stderr = FileHandle.standardError
            if !json { print("running the escape suite in a sandbox of policy \(name)…", to: &stderr) }
            let sandbox = try await manager.acquire(.init(policy: name)).record
            let outcome = await Result.collect { () async throws -> [Result] in
                let run = try await manager.run(sandbox.id, ExecSpec(cmd: ["knify-probe", "--json"] + check), timeout: .seconds(900))
                return try run.result.stdoutText.split(separator: "\n").map {
                    try JSONDecoder().decode(Result.self, from: Data($0.utf8))
                }
            }
            _ = try? await manager.destroy(sandbox.id, reason: "policy test")
            results = try outcome.get()
        } catch let error as ValidationError {
            throw error
        } catch {
            throw fail(error)
        }
        if json {
            try printJSON(results)
        } else {
            printTable(["CHECK", "RESULT", "DETAIL"], results.map { [$0.check, $0.blocked ? "blocked" : "ALLOWED", $0.detail] })
        }
        if results.isEmpty || results.contains(where: { !$0.blocked }) { throw ExitStatus.failure }
    }
}

extension TestPolicy.Result {
    /// Runs `body`, keeping its error as a value, so the sandbox is destroyed whatever happened.
    static func collect(_ body: () async throws -> [Self]) async -> Swift.Result<[Self], any Error> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }
}
