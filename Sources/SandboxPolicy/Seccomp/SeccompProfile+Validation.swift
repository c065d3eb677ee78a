import CSeccomp
import Foundation

extension SeccompProfile {
    /// Actions the engine understands, with the errno-taking ones marked.
    static let actions: [String: Bool] = [
        "SCMP_ACT_KILL": false, "SCMP_ACT_KILL_THREAD": false, "SCMP_ACT_KILL_PROCESS": false,
        "SCMP_ACT_TRAP": false, "SCMP_ACT_ERRNO": true, "SCMP_ACT_TRACE": true, "SCMP_ACT_ALLOW": false,
        "SCMP_ACT_LOG": false, "SCMP_ACT_NOTIFY": false,
    ]

    static let operators: [String: scmp_compare] = [
        "SCMP_CMP_NE": SCMP_CMP_NE, "SCMP_CMP_LT": SCMP_CMP_LT, "SCMP_CMP_LE": SCMP_CMP_LE,
        "SCMP_CMP_EQ": SCMP_CMP_EQ, "SCMP_CMP_GE": SCMP_CMP_GE, "SCMP_CMP_GT": SCMP_CMP_GT,
        "SCMP_CMP_MASKED_EQ": SCMP_CMP_MASKED_EQ,
    ]

    /// `archMap` spellings (libseccomp's), including ones newer than Debian's libseccomp.
    static let seccompArchitectures: Set<String> = [
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
        "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64",
        "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
    ]

    /// `includes.arches` spellings (Go's, as Docker uses them).
    static let goArchitectures: Set<String> = [
        "386", "x86", "amd64", "x32", "arm", "arm64", "mips", "mipsle", "mipsel", "mips64", "mips64le", "mips64n32",
        "mipsel64", "mipsel64n32", "mips64len32", "ppc", "ppc64", "ppc64le", "s390", "s390x", "parisc", "parisc64",
        "riscv64", "loong64", "loongarch64",
    ]

    /// Loads and validates a profile file. Unknown syscall names are warnings: Docker's own default names syscalls
    /// newer than Debian's libseccomp, and runc skips names it cannot resolve.
    public static func load(file: String) throws(PolicyError) -> (SeccompProfile, [PolicyWarning]) {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw PolicyError(.unreadable, file: file, "cannot read the seccomp profile")
        }
        let profile: SeccompProfile
        do {
            profile = try JSONDecoder().decode(SeccompProfile.self, from: data)
        } catch {
            throw PolicyError(.malformed, file: file, field: PolicyDecoding.path(of: error), PolicyDecoding.reason(of: error))
        }
        let warnings = try profile.validate(file: file)
        return (profile, warnings)
    }

    public func validate(file: String) throws(PolicyError) -> [PolicyWarning] {
        var warnings: [PolicyWarning] = []
        try Self.checkAction(defaultAction, file: file, field: "defaultAction")
        if let errno = defaultErrnoRet, !(0...4095).contains(errno) {
            throw PolicyError(.invalidValue, file: file, field: "defaultErrnoRet", value: String(errno), "errno must be 0–4095")
        }
        for (index, mapping) in (archMap ?? []).enumerated() {
            for (offset, name) in ([mapping.architecture] + (mapping.subArchitectures ?? [])).enumerated() {
                guard Self.seccompArchitectures.contains(name) else {
                    let field = offset == 0 ? "archMap[\(index)].architecture" : "archMap[\(index)].subArchitectures[\(offset - 1)]"
                    throw PolicyError(.invalidValue, file: file, field: field, value: name,
                                      "unknown architecture; expected one of SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64, …")
                }
            }
        }
        if syscalls.isEmpty && defaultAction != "SCMP_ACT_ALLOW" {
            throw PolicyError(.invalidValue, file: file, field: "syscalls", value: "[]",
                              "no syscall is allowed: nothing could run")
        }
        for (index, rule) in syscalls.enumerated() {
            let field = "syscalls[\(index)]"
            guard !rule.names.isEmpty else {
                throw PolicyError(.missingField, file: file, field: "\(field).names", "a rule must name at least one syscall")
            }
            try Self.checkAction(rule.action, file: file, field: "\(field).action")
            if let errno = rule.errnoRet, !(0...4095).contains(errno) {
                throw PolicyError(.invalidValue, file: file, field: "\(field).errnoRet", value: String(errno), "errno must be 0–4095")
            }
            for (position, name) in rule.names.enumerated() {
                guard name.range(of: #"^[a-z_][a-z0-9_]*$"#, options: .regularExpression) != nil else {
                    throw PolicyError(.invalidValue, file: file, field: "\(field).names[\(position)]", value: name,
                                      "not a syscall name")
                }
                if seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR {
                    warnings.append(PolicyWarning(file: file, field: "\(field).names[\(position)]",
                                                  message: "\(name) is unknown to this libseccomp; the engine will skip it if its libseccomp does too"))
                }
            }
            for (position, argument) in (rule.args ?? []).enumerated() {
                let argField = "\(field).args[\(position)]"
                guard (0...5).contains(argument.index) else {
                    throw PolicyError(.invalidValue, file: file, field: "\(argField).index", value: String(argument.index),
                                      "syscall arguments are numbered 0–5")
                }
                guard Self.operators[argument.op] != nil else {
                    throw PolicyError(.invalidValue, file: file, field: "\(argField).op", value: argument.op,
                                      "unknown operator; expected one of \(Self.operators.keys.sorted().joined(separator: ", "))")
                }
            }
            for (filter, kind) in [(rule.includes, "includes"), (rule.excludes, "excludes")] {
                guard let filter else { continue }
                for (position, arch) in (filter.arches ?? []).enumerated() where !Self.goArchitectures.contains(arch) {
                    throw PolicyError(.invalidValue, file: file, field: "\(field).\(kind).arches[\(position)]", value: arch,
                                      "unknown architecture; expected Go names such as amd64, arm64, x32")
                }
                for (position, cap) in (filter.caps ?? []).enumerated() {
                    do {
                        _ = try Capabilities.canonical(cap)
                    } catch {
                        throw PolicyError(.invalidValue, file: file, field: "\(field).\(kind).caps[\(position)]",
                                          value: cap, error.message)
                    }
                }
                if let minKernel = filter.minKernel,
                   minKernel.range(of: #"^\d+\.\d+(\.\d+)?$"#, options: .regularExpression) == nil {
                    throw PolicyError(.invalidValue, file: file, field: "\(field).\(kind).minKernel", value: minKernel,
                                      "expected a kernel version such as 4.8")
                }
            }
        }
        return warnings
    }

    private static func checkAction(_ action: String, file: String, field: String) throws(PolicyError) {
        guard actions[action] != nil else {
            throw PolicyError(.invalidValue, file: file, field: field, value: action,
                              "unknown action; expected one of \(actions.keys.sorted().joined(separator: ", "))")
        }
    }
}
