/// The body of `POST /containers/create`, with the engine's own field names on the wire.
public struct ContainerSpec: Codable, Sendable, Equatable {
    public var image: String
    public var cmd: [String]?
    public var entrypoint: [String]?
    public var env: [String]?
    public var workingDir: String?
    public var user: String?
    public var labels: [String: String]?
    public var hostname: String?
    public var stopSignal: String?
    public var stopTimeout: Int?
    public var tty: Bool?
    public var openStdin: Bool?
    public var networkDisabled: Bool?
    public var hostConfig: HostConfig?

    public init(image: String, cmd: [String]? = nil, entrypoint: [String]? = nil, env: [String]? = nil,
                workingDir: String? = nil, user: String? = nil, labels: [String: String]? = nil,
                hostname: String? = nil, stopSignal: String? = nil, stopTimeout: Int? = nil,
                hostConfig: HostConfig? = nil) {
        self.image = image
        self.cmd = cmd
        self.entrypoint = entrypoint
        self.env = env
        self.workingDir = workingDir
        self.user = user
        self.labels = labels
        self.hostname = hostname
        self.stopSignal = stopSignal
        self.stopTimeout = stopTimeout
        self.hostConfig = hostConfig
    }

    enum CodingKeys: String, CodingKey {
        case image = "Image", cmd = "Cmd", entrypoint = "Entrypoint", env = "Env", workingDir = "WorkingDir"
        case user = "User", labels = "Labels", hostname = "Hostname", stopSignal = "StopSignal"
        case stopTimeout = "StopTimeout", tty = "Tty", openStdin = "OpenStdin", networkDisabled = "NetworkDisabled"
        case hostConfig = "HostConfig"
    }
}

/// `HostConfig`: where isolation and limits live.
public struct HostConfig: Codable, Sendable, Equatable {
    /// `seccomp=<profile JSON>`, `no-new-privileges`, … The engine parses the seccomp profile only at start.
    public var securityOpt: [String]?
    public var capDrop: [String]?
    public var capAdd: [String]?
    public var readonlyRootfs: Bool?
    public var pidsLimit: Int64?
    /// Bytes; the engine's minimum is 6 MiB.
    public var memory: Int64?
    /// Set equal to `memory` for no swap.
    public var memorySwap: Int64?
    /// CPUs × 10⁹; excludes `CpuPeriod`/`CpuQuota`.
    public var nanoCpus: Int64?
    public var networkMode: String?
    /// Mount path → options (`size=64m,mode=1777`).
    public var tmpfs: [String: String]?
    public var mounts: [Mount]?
    public var binds: [String]?
    public var `init`: Bool?
    public var runtime: String?
    public var autoRemove: Bool?
    public var privileged: Bool?
    public var ulimits: [Ulimit]?

    public init(securityOpt: [String]? = nil, capDrop: [String]? = nil, capAdd: [String]? = nil,
                readonlyRootfs: Bool? = nil, pidsLimit: Int64? = nil, memory: Int64? = nil,
                memorySwap: Int64? = nil, nanoCpus: Int64? = nil, networkMode: String? = nil,
                tmpfs: [String: String]? = nil, mounts: [Mount]? = nil, binds: [String]? = nil,
                `init`: Bool? = nil, runtime: String? = nil, autoRemove: Bool? = nil, ulimits: [Ulimit]? = nil) {
        self.securityOpt = securityOpt
        self.capDrop = capDrop
        self.capAdd = capAdd
        self.readonlyRootfs = readonlyRootfs
        self.pidsLimit = pidsLimit
        self.memory = memory
        self.memorySwap = memorySwap
        self.nanoCpus = nanoCpus
        self.networkMode = networkMode
        self.tmpfs = tmpfs
        self.mounts = mounts
        self.binds = binds
        self.`init` = `init`
        self.runtime = runtime
        self.autoRemove = autoRemove
        self.ulimits = ulimits
    }

    enum CodingKeys: String, CodingKey {
        case securityOpt = "SecurityOpt", capDrop = "CapDrop", capAdd = "CapAdd", readonlyRootfs = "ReadonlyRootfs"
        case pidsLimit = "PidsLimit", memory = "Memory", memorySwap = "MemorySwap", nanoCpus = "NanoCpus"
        case networkMode = "NetworkMode", tmpfs = "Tmpfs", mounts = "Mounts", binds = "Binds", `init` = "Init"
        case runtime = "Runtime", autoRemove = "AutoRemove", privileged = "Privileged", ulimits = "Ulimits"
    }
}

public struct Mount: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case volume, bind, tmpfs }
    public var type: Kind
    public var source: String?
    public var target: String
    public var readOnly: Bool?
    /// For a named volume the engine creates on the fly: its labels (saves a separate create call).
    public var volumeOptions: VolumeOptions?

    public struct VolumeOptions: Codable, Sendable, Equatable {
        public var labels: [String: String]?

        public init(labels: [String: String]?) { self.labels = labels }

        enum CodingKeys: String, CodingKey { case labels = "Labels" }
    }

    public init(type: Kind, source: String?, target: String, readOnly: Bool? = nil, volumeOptions: VolumeOptions? = nil) {
        self.type = type
        self.source = source
        self.target = target
        self.readOnly = readOnly
        self.volumeOptions = volumeOptions
    }

    enum CodingKeys: String, CodingKey {
        case type = "Type", source = "Source", target = "Target", readOnly = "ReadOnly", volumeOptions = "VolumeOptions"
    }
}

public struct Ulimit: Codable, Sendable, Equatable {
    public var name: String
    public var soft: Int64
    public var hard: Int64

    public init(name: String, soft: Int64, hard: Int64) {
        self.name = name
        self.soft = soft
        self.hard = hard
    }

    enum CodingKeys: String, CodingKey { case name = "Name", soft = "Soft", hard = "Hard" }
}
