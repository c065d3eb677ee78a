import Foundation

public struct PingReply: Sendable {
    public let apiVersion: APIVersion?
    public let osType: String?
    public let engineServer: String?
}

public struct EngineVersion: Decodable, Sendable {
    public let version: String
    public let apiVersion: String
    public let minAPIVersion: String?
    public let os: String?
    public let arch: String?
    public let kernelVersion: String?

    enum CodingKeys: String, CodingKey {
        case version = "Version", apiVersion = "ApiVersion", minAPIVersion = "MinAPIVersion", os = "Os"
        case arch = "Arch", kernelVersion = "KernelVersion"
    }
}

public struct EngineInfo: Decodable, Sendable {
    public let serverVersion: String?
    public let cgroupVersion: String?
    public let cgroupDriver: String?
    public let runtimes: [String: RuntimeInfo]?
    public let defaultRuntime: String?
    public let securityOptions: [String]?
    public let ncpu: Int?
    public let memTotal: Int64?
    public let kernelVersion: String?
    public let operatingSystem: String?
    public let dockerRootDir: String?
    public let memoryLimit: Bool?
    public let swapLimit: Bool?
    public let pidsLimit: Bool?
    public let cpuCfsQuota: Bool?
    public let warnings: [String]?

    public struct RuntimeInfo: Decodable, Sendable {
        public let path: String?
    }

    /// Whether the engine applies seccomp profiles at all.
    public var seccompEnabled: Bool { securityOptions?.contains { $0.contains("name=seccomp") } ?? false }

    enum CodingKeys: String, CodingKey {
        case serverVersion = "ServerVersion", cgroupVersion = "CgroupVersion", cgroupDriver = "CgroupDriver"
        case runtimes = "Runtimes", defaultRuntime = "DefaultRuntime", securityOptions = "SecurityOptions"
        case ncpu = "NCPU", memTotal = "MemTotal", kernelVersion = "KernelVersion"
        case operatingSystem = "OperatingSystem", dockerRootDir = "DockerRootDir", memoryLimit = "MemoryLimit"
        case swapLimit = "SwapLimit", pidsLimit = "PidsLimit", cpuCfsQuota = "CpuCfsQuota", warnings = "Warnings"
    }
}

extension DockerClient {
    /// `GET /_ping`, unversioned: the one call that works before a version is chosen.
    public func ping() async throws(DockerError) -> PingReply {
        var call = Call("GET", "/_ping")
        call.versioned = false
        call.timeoutSeconds = 10
        let reply = try await send(call)
        return PingReply(apiVersion: reply.headers["api-version"].flatMap(APIVersion.init),
                         osType: reply.headers["ostype"], engineServer: reply.headers["server"])
    }

    public func version() async throws(DockerError) -> EngineVersion {
        try await send(Call("GET", "/version"), as: EngineVersion.self)
    }

    public func info() async throws(DockerError) -> EngineInfo {
        try await send(Call("GET", "/info"), as: EngineInfo.self)
    }
}
