/// A Docker-format seccomp profile, as the engine takes it in `SecurityOpt: ["seccomp=<json>"]`.
public struct SeccompProfile: Codable, Sendable, Equatable {
    public var defaultAction: String
    public var defaultErrnoRet: Int?
    public var archMap: [ArchMapping]?
    public var syscalls: [Rule]

    public struct ArchMapping: Codable, Sendable, Equatable {
        public var architecture: String
        public var subArchitectures: [String]?
    }

    public struct Rule: Codable, Sendable, Equatable {
        public var names: [String]
        public var action: String
        public var errnoRet: Int?
        public var args: [Argument]?
        public var includes: Filter?
        public var excludes: Filter?
        public var comment: String?
    }

    public struct Argument: Codable, Sendable, Equatable {
        public var index: Int
        public var value: UInt64
        public var valueTwo: UInt64?
        public var op: String
    }

    /// Docker resolves these against the container: architectures (Go names), capabilities, kernel version.
    public struct Filter: Codable, Sendable, Equatable {
        public var arches: [String]?
        public var caps: [String]?
        public var minKernel: String?
    }
}
