import Foundation
import KnifyTestSupport
@testable import SandboxPolicy
import Testing

@Suite("Policy files and seccomp profiles (libseccomp, libcap; no engine needed)")
struct PolicyTests {
    @Test("the shipped policies load, compile and map to a locked-down HostConfig", arguments: ["default", "strict"])
    func shippedPolicies(name: String) throws {
        let policy = try Policy.load(named: name, from: TestFixtures.policiesDirectory)
        #expect(policy.capDrop == ["ALL"])
        #expect(policy.noNewPrivileges && policy.readOnlyRoot)
        #expect(policy.network == .none)
        let host = policy.hostConfig(workspaceVolume: "knify-ws-test")
        #expect(host.securityOpt?.first?.hasPrefix("seccomp={") == true)
        #expect(host.securityOpt?.contains("no-new-privileges") == true)
        #expect(host.memorySwap == host.memory)
        #expect(host.networkMode == "none")
        #expect(host.mounts == [.init(type: .volume, source: "knify-ws-test", target: "/workspace")])
        #expect(host.tmpfs?["/workspace"] == nil)
        #expect(host.tmpfs?["/tmp"]?.contains("size=") == true)
    }

    @Test("the compiled filter: clone3 gets ENOSYS, the risky families fall to the EPERM default")
    func compiledFilter() throws {
        let policy = try Policy.load(named: "default", from: TestFixtures.policiesDirectory)
        let compiled = try policy.seccomp.compile(file: policy.seccompFile)
        #expect(compiled.bpf.count > 0 && compiled.bpf.count % 8 == 0)
        #expect(compiled.pfc.contains("ERRNO(38)"))
        #expect(compiled.pfc.contains("action ERRNO(1);"))
        for risky in ["ptrace", "bpf", "keyctl", "mount", "unshare", "setns", "io_uring_setup", "perf_event_open",
                      "userfaultfd", "kexec_load", "init_module", "reboot", "open_by_handle_at"] {
            #expect(!compiled.pfc.contains("\"\(risky)\""), "\(risky) has a rule of its own")
        }
        #expect(compiled.pfc.contains("\"read\""))
    }

    @Test("capability names are checked strictly", arguments: [
        ("NET_BIND_SERVICE", "NET_BIND_SERVICE"), ("cap_chown", "CHOWN"), ("CAP_KILL", "KILL"), ("all", "ALL"),
    ])
    func goodCapabilities(name: String, canonical: String) throws {
        #expect(try Capabilities.canonical(name) == canonical)
    }

    @Test("libcap's lenient inputs are refused", arguments: ["12", "NET_RAW,CHOWN", "NET_RAW xyz", "NOT_A_CAP", "", "cap_"])
    func badCapabilities(name: String) {
        #expect(throws: Capabilities.InvalidName.self) { try Capabilities.canonical(name) }
    }

    // MARK: - Bad files, each with its own error

    private func write(_ files: [String: String]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("knify-policy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, text) in files {
            let url = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return directory.path
    }

    private static let goodProfile = #"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"}]}"#

    private static func policy(_ overrides: String = "", seccomp: String = "p.json") -> String {
        var fields = [#""seccomp":"\#(seccomp)""#, #""memory":"256m""#, #""cpus":1"#, #""pids":64"#]
        if !overrides.isEmpty { fields.append(overrides) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        let label: String
        let policy: String
        let profile: String
        let code: PolicyError.Code
        let field: String
        var testDescription: String { label }
    }

    static let badCases: [BadCase] = [
        BadCase(label: "not JSON", policy: "{memory:", profile: goodProfile, code: .malformed, field: ""),
        BadCase(label: "unknown field", policy: policy(#""memroy":"1g""#), profile: goodProfile, code: .invalidValue, field: "memroy"),
        BadCase(label: "missing field", policy: #"{"seccomp":"p.json","cpus":1,"pids":64}"#, profile: goodProfile, code: .missingField, field: "memory"),
        BadCase(label: "wrong type", policy: #"{"seccomp":"p.json","memory":"1g","cpus":"many","pids":64}"#, profile: goodProfile, code: .malformed, field: "cpus"),
        BadCase(label: "bad size", policy: #"{"seccomp":"p.json","memory":"lots","cpus":1,"pids":64}"#, profile: goodProfile, code: .invalidValue, field: "memory"),
        BadCase(label: "below engine minimum", policy: #"{"seccomp":"p.json","memory":"1m","cpus":1,"pids":64}"#, profile: goodProfile, code: .invalidValue, field: "memory"),
        BadCase(label: "capability garbage", policy: policy(#""capabilities":{"drop":["ALL"],"add":["NET_RAW,SYS_ADMIN"]}"#), profile: goodProfile, code: .invalidValue, field: "capabilities.add[0]"),
        BadCase(label: "drop without ALL", policy: policy(#""capabilities":{"drop":["NET_RAW"]}"#), profile: goodProfile, code: .invalidValue, field: "capabilities.drop"),
        BadCase(label: "root user", policy: policy(#""user":"0:0""#), profile: goodProfile, code: .invalidValue, field: "user"),
        BadCase(label: "workspace on tmpfs", policy: policy(#""tmpfs":{"/workspace":"size=1m"}"#), profile: goodProfile, code: .invalidValue, field: "tmpfs"),
        BadCase(label: "tmpfs without size", policy: policy(#""tmpfs":{"/tmp":"mode=1777"}"#), profile: goodProfile, code: .invalidValue, field: "tmpfs./tmp"),
        BadCase(label: "unknown network", policy: policy(#""network":"host""#), profile: goodProfile, code: .invalidValue, field: "network"),
        BadCase(label: "bad duration", policy: policy(#""idle_ttl":"soon""#), profile: goodProfile, code: .invalidValue, field: "idle_ttl"),
        BadCase(label: "missing profile", policy: policy(seccomp: "nope.json"), profile: goodProfile, code: .unreadable, field: ""),
        BadCase(label: "profile: unknown action", policy: policy(), profile: #"{"defaultAction":"SCMP_ACT_EXPLODE","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#, code: .invalidValue, field: "defaultAction"),
        BadCase(label: "profile: bad operator", policy: policy(), profile: #"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_ABOUT"}]}]}"#, code: .invalidValue, field: "syscalls[0].args[0].op"),
        BadCase(label: "profile: argument index", policy: policy(), profile: #"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#, code: .invalidValue, field: "syscalls[0].args[0].index"),
        BadCase(label: "profile: bad architecture", policy: policy(), profile: #"{"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_Z80"}],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#, code: .invalidValue, field: "archMap[0].architecture"),
        BadCase(label: "profile: empty names", policy: policy(), profile: #"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":[],"action":"SCMP_ACT_ALLOW"}]}"#, code: .missingField, field: "syscalls[0].names"),
        BadCase(label: "profile: wrong type", policy: policy(), profile: #"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":"read","action":"SCMP_ACT_ALLOW"}]}"#, code: .malformed, field: "syscalls[0].names"),
    ]

    @Test("each kind of bad file names its file, field and value", arguments: badCases)
    func badFiles(bad: BadCase) throws {
        let directory = try write(["bad.json": bad.policy, "p.json": bad.profile])
        let error = #expect(throws: PolicyError.self) { try Policy.load(named: "bad", from: directory) }
        #expect(error?.code == bad.code)
        #expect(error?.field == bad.field)
        #expect(error?.description.contains(directory) == true)
    }

    @Test("an unknown policy name lists the ones there are")
    func unknownPolicy() {
        let error = #expect(throws: PolicyError.self) { try Policy.load(named: "lenient", from: TestFixtures.policiesDirectory) }
        #expect(error?.code == .unknownPolicy)
        #expect(error?.message.contains("default, strict") == true)
    }

    @Test("a syscall unknown to libseccomp is a warning, not an error")
    func unknownSyscallWarns() throws {
        let profile = #"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","future_syscall_2031"],"action":"SCMP_ACT_ALLOW"}]}"#
        let directory = try write(["ok.json": Self.policy(), "p.json": profile])
        let policy = try Policy.load(named: "ok", from: directory)
        #expect(policy.warnings.map(\.field) == ["syscalls[0].names[1]"])
    }
}
