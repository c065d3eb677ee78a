import CSeccomp
import Foundation

/// The profile compiled by libseccomp for this machine's architecture, as readable PFC and as raw BPF.
public struct CompiledSeccomp: Sendable {
    public let pfc: String
    public let bpf: [UInt8]
    /// Names the native libseccomp could not resolve, skipped as runc skips them.
    public let skipped: [String]
}

extension SeccompProfile {
    /// The Go name Docker matches `includes.arches` against on this machine.
    static var nativeGoArchitecture: String {
        #if arch(x86_64)
        return "amd64"
        #elseif arch(arm64)
        return "arm64"
        #else
        return "unknown"
        #endif
    }

    /// Compiles the rules that apply here (native architecture, `capabilities` kept by the policy) with libseccomp:
    /// a profile libseccomp refuses is an error naming the rule. `capabilities` use the engine's spelling.
    public func compile(file: String, capabilities: Set<String> = []) throws(PolicyError) -> CompiledSeccomp {
        let defaultAction = try Self.action(self.defaultAction, errno: defaultErrnoRet, file: file, field: "defaultAction")
        guard let context = seccomp_init(defaultAction) else {
            throw PolicyError(.compile, file: file, "seccomp_init failed")
        }
        defer { seccomp_release(context) }
        var skipped: [String] = []
        for (index, rule) in syscalls.enumerated() where applies(rule, capabilities: capabilities) {
            let action = try Self.action(rule.action, errno: rule.errnoRet ?? defaultErrnoRet, file: file,
                                         field: "syscalls[\(index)].action")
            let comparisons = try (rule.args ?? []).enumerated().map { position, argument throws(PolicyError) in
                guard let op = Self.operators[argument.op] else {
                    throw PolicyError(.invalidValue, file: file, field: "syscalls[\(index)].args[\(position)].op",
                                      value: argument.op, "unknown operator")
                }
                return scmp_arg_cmp(arg: UInt32(argument.index), op: op, datum_a: argument.value,
                                    datum_b: argument.valueTwo ?? 0)
            }
            for name in rule.names {
                let number = seccomp_syscall_resolve_name(name)
                guard number != __NR_SCMP_ERROR else {
                    skipped.append(name)
                    continue
                }
                // Rules equal to the default action are redundant and libseccomp refuses them.
                if action == defaultAction { continue }
                let status = comparisons.withUnsafeBufferPointer { buffer in
                    knify_seccomp_rule_add(context, action, number, UInt32(buffer.count), buffer.baseAddress)
                }
                guard status == 0 else {
                    throw PolicyError(.compile, file: file, field: "syscalls[\(index)]", value: name,
                                      "libseccomp refused the rule (\(String(cString: strerror(-status))))")
                }
            }
        }
        return CompiledSeccomp(pfc: String(decoding: try export(context, file: file, seccomp_export_pfc), as: UTF8.self),
                               bpf: try export(context, file: file, seccomp_export_bpf), skipped: skipped)
    }

    private func applies(_ rule: Rule, capabilities: Set<String>) -> Bool {
        let arch = Self.nativeGoArchitecture
        if let arches = rule.includes?.arches, !arches.isEmpty, !arches.contains(arch) { return false }
        if let arches = rule.excludes?.arches, arches.contains(arch) { return false }
        let canonical = { (name: String) in (try? Capabilities.canonical(name)) ?? name }
        if let caps = rule.includes?.caps, !caps.isEmpty, !caps.allSatisfy({ capabilities.contains(canonical($0)) }) {
            return false
        }
        if let caps = rule.excludes?.caps, caps.contains(where: { capabilities.contains(canonical($0)) }) { return false }
        return true
    }

    private static func action(_ name: String, errno: Int?, file: String, field: String) throws(PolicyError) -> UInt32 {
        switch name {
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return 0x0000_0000
        case "SCMP_ACT_KILL_PROCESS": return 0x8000_0000
        case "SCMP_ACT_TRAP": return 0x0003_0000
        case "SCMP_ACT_ERRNO": return knify_seccomp_act_errno(UInt16(clamping: errno ?? 1))
        case "SCMP_ACT_TRACE": return knify_seccomp_act_trace(UInt16(clamping: errno ?? 0))
        case "SCMP_ACT_LOG": return 0x7ffc_0000
        case "SCMP_ACT_NOTIFY": return 0x7fc0_0000
        case "SCMP_ACT_ALLOW": return 0x7fff_0000
        default: throw PolicyError(.invalidValue, file: file, field: field, value: name, "unknown action")
        }
    }

    /// libseccomp exports to a file descriptor: through an unlinked temporary file.
    private func export(_ context: scmp_filter_ctx, file: String,
                        _ exporter: (scmp_filter_ctx, Int32) -> Int32) throws(PolicyError) -> [UInt8] {
        var template = Array("/tmp/knify-seccomp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw PolicyError(.compile, file: file, "cannot create a temporary file for the export") }
        unlink(template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        defer { close(fd) }
        guard exporter(context, fd) == 0 else { throw PolicyError(.compile, file: file, "libseccomp could not export the filter") }
        lseek(fd, 0, SEEK_SET)
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            output += buffer[0..<count]
        }
        return output
    }
}
