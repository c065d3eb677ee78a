import DockerEngine
import Foundation

/// A sandbox policy: one file under `Policies/` naming a seccomp profile and the container settings around it.
/// Loaded and validated whole, so a sandbox is never created from half a policy.
public struct Policy: Sendable {
    public enum Network: String, Sendable {
        /// No interface but loopback: the default, and what every test uses.
        case none
        /// The engine's default bridge, for production agents that must reach their vendor's API.
        case egress
    }

    public let name: String
    public let file: String
    public let description: String
    public let seccompFile: String
    public let seccomp: SeccompProfile
    /// The profile as the engine takes it inline, encoded once at load (every sandbox create sends it).
    public let seccompJSON: String
    /// The profile compiled by libseccomp for this machine, base64: what `knify-confine` installs where the runtime
    /// does not apply the engine's filter to execs (see `confined(_:runtime:)`).
    public let seccompBPFBase64: String
    /// The OCI runtimes the policy accepts, most preferred first: `["runc"]` (the engine's default), `["runsc"]`
    /// (gVisor, required), or `["runsc", "runc"]` (gVisor where the engine offers it). See `runtime(offered:)`.
    public let runtimes: [String]
    public let user: String
    public let capDrop: [String]
    public let capAdd: [String]
    public let noNewPrivileges: Bool
    public let readOnlyRoot: Bool
    /// Where the sandbox's own volume is mounted (never a tmpfs: archive uploads into a tmpfs are invisible).
    public let workspacePath: String
    /// Mount path → options, e.g. `/tmp` → `size=64m,mode=1777`.
    public let tmpfs: [String: String]
    public let memoryBytes: Int64
    public let nanoCpus: Int64
    public let pidsLimit: Int64
    public let network: Network
    /// Seconds a paused sandbox may sit unused before the reaper removes it.
    public let idleTTL: Int
    /// Seconds a sandbox may exist at all.
    public let maxLifetime: Int
    public let initProcess: Bool
    public let warnings: [PolicyWarning]

    /// The part of the container configuration the policy decides. The caller adds image, labels and the workspace
    /// volume's name; a volume that does not exist yet is created by the engine with `volumeLabels`.
    /// `runtime` is what `runtime(offered:)` chose; nil takes the first preference.
    public func hostConfig(workspaceVolume: String, volumeLabels: [String: String]? = nil, runtime: String? = nil) -> HostConfig {
        let runtime = runtime ?? runtimes[0]
        var securityOpt = ["seccomp=" + seccompJSON]
        if noNewPrivileges { securityOpt.append("no-new-privileges") }
        return HostConfig(
            securityOpt: securityOpt, capDrop: capDrop, capAdd: capAdd.isEmpty ? nil : capAdd,
            readonlyRootfs: readOnlyRoot, pidsLimit: pidsLimit, memory: memoryBytes, memorySwap: memoryBytes,
            nanoCpus: nanoCpus, networkMode: network == .none ? "none" : "bridge", tmpfs: tmpfs,
            mounts: [Mount(type: .volume, source: workspaceVolume, target: workspacePath,
                           volumeOptions: volumeLabels.map { Mount.VolumeOptions(labels: $0) })],
            init: initProcess, runtime: runtime == "runc" ? nil : runtime
        )
    }


    /// The first runtime of the policy's preferences that the engine offers (its `GET /info` `Runtimes`), or nil:
    /// then the policy cannot run on this engine, and sandboxes must not be created with a weaker one silently.
    public func runtime(offered: Set<String>) -> String? {
        runtimes.first { offered.contains($0) }
    }

    /// The exec as the policy's runtime needs it. gVisor's runsc (Debian's build, and upstream before 2026-03)
    /// installs the container's seccomp filter on its first process only, not on execs, and every agent is an
    /// exec: under runsc the command starts through the image's `knify-confine`, which installs the policy's own
    /// filter (gVisor's kernel enforces it) and then execs the command. Other runtimes apply the filter themselves.
    public func confined(_ spec: ExecSpec, runtime: String) -> ExecSpec {
        guard runtime == "runsc" else { return spec }
        var confined = spec
        confined.cmd = [Self.confineCommand] + spec.cmd
        confined.env.append("\(Self.confineVariable)=\(seccompBPFBase64)")
        return confined
    }

    /// The launcher in the sandbox image (`Images/local/confine/`) and the variable it reads its filter from.
    public static let confineCommand = "/usr/local/bin/knify-confine"
    public static let confineVariable = "KNIFY_SECCOMP_BPF"

    /// How to make the engine offer the runtime a policy asks for (for errors and `doctor`).
    public static func registrationHint(for runtime: String) -> String {
        guard runtime == "runsc" else {
            return "register the runtime \(runtime) under \"runtimes\" in the engine's daemon.json and restart dockerd"
        }
        return #"install gVisor (apt-get install runsc) and register it in the engine's daemon.json: {"runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none", "--platform=ptrace", "--oci-seccomp"]}}}, then restart dockerd (make engine does both when it starts its own engine)"#
    }

    /// The capabilities the sandbox keeps, in the engine's spelling (for cap-conditional seccomp rules): every
    /// policy drops ALL, so exactly the added ones.
    public var effectiveCapabilities: Set<String> { Set(capAdd) }
}

extension Policy {
    /// The fields a policy file may have; anything else is a typo and refused.
    private struct File: Decodable {
        var description: String?
        var seccomp: String
        var runtime: RuntimeField?
        var user: String?
        var capabilities: CapabilitySet?
        var no_new_privileges: Bool?
        var read_only_root: Bool?
        var workspace: String?
        var tmpfs: [String: String]?
        var memory: String
        var cpus: Double
        var pids: Int64
        var network: String?
        var idle_ttl: String?
        var max_lifetime: String?
        var `init`: Bool?

        /// `"runsc"` or `["runsc", "runc"]`.
        enum RuntimeField: Decodable {
            case one(String)
            case preferences([String])

            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let name = try? container.decode(String.self) {
                    self = .one(name)
                } else {
                    self = .preferences(try container.decode([String].self))
                }
            }

            var names: [String] {
                switch self {
                case .one(let name): [name]
                case .preferences(let names): names
                }
            }
        }

        struct CapabilitySet: Decodable {
            var drop: [String]?
            var add: [String]?
        }

        static let keys: Set<String> = [
            "description", "seccomp", "runtime", "user", "capabilities", "no_new_privileges", "read_only_root",
            "workspace", "tmpfs", "memory", "cpus", "pids", "network", "idle_ttl", "max_lifetime", "init",
        ]
    }

    /// Loads `<directory>/<name>.json`.
    public static func load(named name: String, from directory: String) throws(PolicyError) -> Policy {
        guard name.range(of: #"^[a-z0-9][a-z0-9_-]*$"#, options: .regularExpression) != nil else {
            throw PolicyError(.unknownPolicy, file: directory, value: name, "policy names are lower-case letters, digits, - and _")
        }
        let path = (directory as NSString).appendingPathComponent("\(name).json")
        guard FileManager.default.fileExists(atPath: path) else {
            let known = (try? FileManager.default.contentsOfDirectory(atPath: directory))?
                .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted() ?? []
            throw PolicyError(.unknownPolicy, file: path, value: name,
                              "no such policy; available: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
        }
        return try load(file: path)
    }

    /// Every policy file (`*.json`) of a folder, by policy name.
    public static func loadAll(from directory: String) throws(PolicyError) -> [String: Policy] {
        var policies: [String: Policy] = [:]
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for file in names.sorted() where file.hasSuffix(".json") {
            let policy = try load(file: (directory as NSString).appendingPathComponent(file))
            policies[policy.name] = policy
        }
        return policies
    }

    public static func load(file: String) throws(PolicyError) -> Policy {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw PolicyError(.unreadable, file: file, "cannot read the policy file")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw PolicyError(.malformed, file: file, "not a JSON object")
        }
        if let unknown = Set(object.keys).subtracting(File.keys).sorted().first {
            throw PolicyError(.invalidValue, file: file, field: unknown,
                              "unknown field; a policy has \(File.keys.sorted().joined(separator: ", "))")
        }
        let raw: File
        do {
            raw = try JSONDecoder().decode(File.self, from: data)
        } catch {
            let field = PolicyDecoding.path(of: error)
            let reason = PolicyDecoding.reason(of: error)
            throw PolicyError(reason == "required field is missing" ? .missingField : .malformed, file: file, field: field, reason)
        }
        return try validate(raw, file: file)
    }

    private static func validate(_ raw: File, file: String) throws(PolicyError) -> Policy {
        func invalid(_ field: String, _ value: String, _ message: String) -> PolicyError {
            PolicyError(.invalidValue, file: file, field: field, value: value, message)
        }
        let directory = (file as NSString).deletingLastPathComponent
        let seccompFile = raw.seccomp.hasPrefix("/") ? raw.seccomp : (directory as NSString).appendingPathComponent(raw.seccomp)
        let (profile, warnings) = try SeccompProfile.load(file: seccompFile)

        func capabilities(_ names: [String], _ key: String) throws(PolicyError) -> [String] {
            var canonical: [String] = []
            for (index, name) in names.enumerated() {
                do {
                    canonical.append(try Capabilities.canonical(name))
                } catch {
                    throw invalid("capabilities.\(key)[\(index)]", name, error.message)
                }
            }
            return canonical
        }
        let capDrop = try capabilities(raw.capabilities?.drop ?? ["ALL"], "drop")
        let capAdd = try capabilities(raw.capabilities?.add ?? [], "add")
        if capAdd.contains("ALL") { throw invalid("capabilities.add", "ALL", "adding every capability defeats the sandbox") }
        guard capDrop.contains("ALL") else {
            throw invalid("capabilities.drop", capDrop.joined(separator: ","), "must include ALL; add back only what the sandbox needs")
        }

        let memory = try ByteSize.parse(raw.memory).orThrow(invalid("memory", raw.memory, "expected a size such as 512m or 2g"))
        guard memory >= 6 << 20 else { throw invalid("memory", raw.memory, "the engine's minimum is 6m") }
        guard raw.cpus > 0, raw.cpus <= 1024 else { throw invalid("cpus", String(raw.cpus), "expected a number of CPUs above 0") }
        guard raw.pids >= 8 else { throw invalid("pids", String(raw.pids), "at least 8 processes are needed to run an agent") }

        var tmpfs: [String: String] = [:]
        for (path, options) in raw.tmpfs ?? ["/tmp": "size=64m,mode=1777"] {
            guard path.hasPrefix("/"), !path.contains("..") else { throw invalid("tmpfs", path, "expected an absolute path") }
            guard options.contains("size=") else {
                throw invalid("tmpfs.\(path)", options, "a tmpfs needs a size= limit, or a disk filler could exhaust memory")
            }
            tmpfs[path] = options
        }
        let workspace = raw.workspace ?? "/workspace"
        guard workspace.hasPrefix("/"), !workspace.contains("..") else { throw invalid("workspace", workspace, "expected an absolute path") }
        guard tmpfs[workspace] == nil else {
            throw invalid("tmpfs", workspace, "the workspace must be a volume: files copied into a tmpfs are invisible to the container")
        }

        guard let network = Network(rawValue: raw.network ?? "none") else {
            throw invalid("network", raw.network ?? "", "expected none or egress")
        }
        let runtimes = raw.runtime?.names ?? ["runc"]
        guard !runtimes.isEmpty, Set(runtimes).count == runtimes.count else {
            throw invalid("runtime", runtimes.joined(separator: ","), "expected a runtime name, or a list of distinct names in order of preference")
        }
        for runtime in runtimes where runtime.range(of: #"^[a-z][a-z0-9._-]*$"#, options: .regularExpression) == nil {
            throw invalid("runtime", runtime, "expected a runtime name such as runc or runsc")
        }
        let user = raw.user ?? "1000:1000"
        guard user.range(of: #"^[0-9]+(:[0-9]+)?$"#, options: .regularExpression) != nil else {
            throw invalid("user", user, "expected a numeric uid[:gid]")
        }
        guard user != "0", !user.hasPrefix("0:") else { throw invalid("user", user, "sandboxes never run as root") }
        let idle = try DurationText.seconds(raw.idle_ttl ?? "30m").orThrow(invalid("idle_ttl", raw.idle_ttl ?? "", "expected a duration such as 30m, 2h or 45s"))
        let lifetime = try DurationText.seconds(raw.max_lifetime ?? "4h").orThrow(invalid("max_lifetime", raw.max_lifetime ?? "", "expected a duration such as 4h"))
        guard lifetime >= idle else { throw invalid("max_lifetime", raw.max_lifetime ?? "", "shorter than idle_ttl") }

        var allWarnings = warnings
        if raw.no_new_privileges == false {
            allWarnings.append(PolicyWarning(file: file, field: "no_new_privileges",
                                             message: "off: a setuid binary in the image could regain privileges"))
        }
        // Compiling with libseccomp is the last check: what it refuses, the engine would refuse at start.
        let compiled = try profile.compile(file: seccompFile, capabilities: Set(capAdd))
        return Policy(
            name: ((file as NSString).lastPathComponent as NSString).deletingPathExtension, file: file,
            description: raw.description ?? "", seccompFile: seccompFile, seccomp: profile,
            seccompJSON: try Self.inline(profile, file: seccompFile),
            seccompBPFBase64: Data(compiled.bpf).base64EncodedString(), runtimes: runtimes,
            user: user, capDrop: capDrop, capAdd: capAdd, noNewPrivileges: raw.no_new_privileges ?? true,
            readOnlyRoot: raw.read_only_root ?? true, workspacePath: workspace, tmpfs: tmpfs, memoryBytes: memory,
            nanoCpus: Int64(raw.cpus * 1_000_000_000), pidsLimit: raw.pids, network: network, idleTTL: idle,
            maxLifetime: lifetime, initProcess: raw.`init` ?? true, warnings: allWarnings
        )
    }
}

extension Policy {
    private static func inline(_ profile: SeccompProfile, file: String) throws(PolicyError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(profile) else {
            throw PolicyError(.malformed, file: file, "the profile cannot be encoded for the engine")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// `512m`, `2g`, `1048576` (bytes; binary multiples).
enum ByteSize {
    static func parse(_ text: String) -> Int64? {
        let lower = text.lowercased().trimmingCharacters(in: .whitespaces)
        let units: [(String, Int64)] = [("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("b", 1)]
        for (suffix, factor) in units where lower.hasSuffix(suffix) {
            return Int64(lower.dropLast()).flatMap { $0 > 0 ? $0 * factor : nil }
        }
        return Int64(lower).flatMap { $0 > 0 ? $0 : nil }
    }
}

/// `45s`, `30m`, `4h`, `2d`.
enum DurationText {
    static func seconds(_ text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let unit = text.last, let factor = units[unit], let value = Int(text.dropLast()), value > 0 else { return nil }
        return value * factor
    }
}

extension Optional {
    fileprivate func orThrow(_ error: @autoclosure () -> PolicyError) throws(PolicyError) -> Wrapped {
        guard let self else { throw error() }
        return self
    }
}
