import ArgumentParser
import DockerEngine
import Foundation
import SandboxPolicy

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check and explain sandbox policies.",
        subcommands: [Lint.self, Show.self]
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
                    runtime       \(policy.runtime)
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
