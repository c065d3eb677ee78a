import Foundation

/// What `POST /containers/create` answered. `warnings` lists limits the engine could not apply (a missing cgroup
/// controller, say): callers that rely on isolation must treat a non-empty list as a failure.
public struct CreatedContainer: Decodable, Sendable {
    public let id: String
    public let warnings: [String]

    enum CodingKeys: String, CodingKey { case id = "Id", warnings = "Warnings" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        warnings = (try container.decodeIfPresent([String].self, forKey: .warnings) ?? []).filter { !$0.isEmpty }
    }
}

/// One row of `GET /containers/json`.
public struct ContainerSummary: Decodable, Sendable {
    public let id: String
    public let names: [String]
    public let image: String
    public let labels: [String: String]
    public let state: String
    public let status: String
    /// Unix seconds.
    public let created: Int64

    /// The name without the engine's leading slash.
    public var name: String? { names.first.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } }

    enum CodingKeys: String, CodingKey {
        case id = "Id", names = "Names", image = "Image", labels = "Labels", state = "State", status = "Status"
        case created = "Created"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        names = try container.decodeIfPresent([String].self, forKey: .names) ?? []
        image = try container.decodeIfPresent(String.self, forKey: .image) ?? ""
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        state = try container.decodeIfPresent(String.self, forKey: .state) ?? ""
        status = try container.decodeIfPresent(String.self, forKey: .status) ?? ""
        created = try container.decodeIfPresent(Int64.self, forKey: .created) ?? 0
    }
}

/// The parts of `GET /containers/{id}/json` Knify reads.
public struct ContainerDetails: Decodable, Sendable {
    public let id: String
    public let name: String
    public let created: String
    public let state: State
    public let config: Config
    public let hostConfig: HostConfig?
    public let mounts: [MountPoint]?

    public struct State: Decodable, Sendable {
        /// created, running, paused, restarting, removing, exited, dead.
        public let status: String
        public let running: Bool
        public let paused: Bool
        public let oomKilled: Bool
        public let pid: Int
        public let exitCode: Int
        public let error: String?
        public let startedAt: String?
        public let finishedAt: String?

        enum CodingKeys: String, CodingKey {
            case status = "Status", running = "Running", paused = "Paused", oomKilled = "OOMKilled", pid = "Pid"
            case exitCode = "ExitCode", error = "Error", startedAt = "StartedAt", finishedAt = "FinishedAt"
        }
    }

    public struct Config: Decodable, Sendable {
        public let image: String?
        public let user: String?
        public let env: [String]?
        public let labels: [String: String]?
        public let workingDir: String?
        public let cmd: [String]?

        enum CodingKeys: String, CodingKey {
            case image = "Image", user = "User", env = "Env", labels = "Labels", workingDir = "WorkingDir", cmd = "Cmd"
        }
    }

    public struct MountPoint: Decodable, Sendable {
        public let type: String?
        public let name: String?
        public let source: String?
        public let destination: String
        public let rw: Bool?

        enum CodingKeys: String, CodingKey {
            case type = "Type", name = "Name", source = "Source", destination = "Destination", rw = "RW"
        }
    }

    enum CodingKeys: String, CodingKey {
        case id = "Id", name = "Name", created = "Created", state = "State", config = "Config"
        case hostConfig = "HostConfig", mounts = "Mounts"
    }
}

/// How `wait` ended: the container's exit code, or the engine's error text.
public struct WaitResult: Decodable, Sendable {
    public let statusCode: Int
    public let error: String?

    enum CodingKeys: String, CodingKey { case statusCode = "StatusCode", error = "Error" }
    enum ErrorKeys: String, CodingKey { case message = "Message" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        statusCode = try container.decode(Int.self, forKey: .statusCode)
        if container.contains(.error), (try? container.decodeNil(forKey: .error)) == false {
            let nested = try container.nestedContainer(keyedBy: ErrorKeys.self, forKey: .error)
            let message = try nested.decodeIfPresent(String.self, forKey: .message) ?? ""
            error = message.isEmpty ? nil : message
        } else {
            error = nil
        }
    }
}

public enum WaitCondition: String, Sendable {
    case notRunning = "not-running", nextExit = "next-exit", removed
}

extension DockerClient {
    /// Creates a container. A 409 means the name is taken: the caller decides whether to adopt or remove it.
    public func createContainer(_ spec: ContainerSpec, name: String? = nil) async throws(DockerError) -> CreatedContainer {
        var call = Call("POST", "/containers/create", query: [("name", name)])
        try call.json(spec)
        return try await send(call, as: CreatedContainer.self)
    }

    /// Starts a container; starting a running one (304) is success.
    public func startContainer(_ id: String) async throws(DockerError) {
        var call = Call("POST", "/containers/\(id)/start")
        call.alsoAccept = [304]
        _ = try await send(call)
    }

    /// Stops a container, killing it after `timeoutSeconds`; stopping a stopped one (304) is success.
    public func stopContainer(_ id: String, timeoutSeconds: Int = 10) async throws(DockerError) {
        var call = Call("POST", "/containers/\(id)/stop", query: [("t", String(timeoutSeconds))])
        call.alsoAccept = [304]
        _ = try await send(call)
    }

    public func killContainer(_ id: String, signal: String = "KILL") async throws(DockerError) {
        _ = try await send(Call("POST", "/containers/\(id)/kill", query: [("signal", signal)]))
    }

    /// Freezes every process of the container (freezer cgroup).
    public func pauseContainer(_ id: String) async throws(DockerError) {
        _ = try await send(Call("POST", "/containers/\(id)/pause"))
    }

    public func unpauseContainer(_ id: String) async throws(DockerError) {
        _ = try await send(Call("POST", "/containers/\(id)/unpause"))
    }

    public func inspectContainer(_ id: String) async throws(DockerError) -> ContainerDetails {
        try await send(Call("GET", "/containers/\(id)/json"), as: ContainerDetails.self)
    }

    /// Lists containers, stopped ones included when `all`. `labels` are `key` or `key=value` filters, all required.
    public func listContainers(all: Bool = true, labels: [String] = [], name: String? = nil)
        async throws(DockerError) -> [ContainerSummary]
    {
        var filters: [String: [String]] = [:]
        if !labels.isEmpty { filters["label"] = labels }
        if let name { filters["name"] = [name] }
        let call = Call("GET", "/containers/json", query: [("all", all ? "true" : "false"),
                                                          ("filters", Self.filters(filters))])
        return try await send(call, as: [ContainerSummary].self)
    }

    /// Removes a container (and its anonymous volumes when `volumes`). 404 is thrown as `.notFound`.
    public func removeContainer(_ id: String, force: Bool = false, volumes: Bool = false) async throws(DockerError) {
        let call = Call("DELETE", "/containers/\(id)", query: [("force", force ? "true" : "false"),
                                                               ("v", volumes ? "true" : "false")])
        _ = try await send(call)
    }

    /// Blocks until the condition holds. `notRunning` answers at once for a created-but-not-started container.
    public func waitContainer(_ id: String, condition: WaitCondition = .notRunning) async throws(DockerError) -> WaitResult {
        try await send(Call("POST", "/containers/\(id)/wait", query: [("condition", condition.rawValue)]),
                       as: WaitResult.self)
    }

    /// Snapshots the container's root filesystem (volumes excluded) into an image; returns its id.
    public func commitContainer(_ id: String, repository: String? = nil, tag: String? = nil,
                                comment: String? = nil, pause: Bool = true) async throws(DockerError) -> String {
        struct Reply: Decodable { let Id: String }
        var call = Call("POST", "/commit", query: [("container", id), ("repo", repository), ("tag", tag),
                                                    ("comment", comment), ("pause", pause ? "true" : "false")])
        try call.json([String: String]())
        return try await send(call, as: Reply.self).Id
    }

    /// The container's output (not for TTY containers), demultiplexed; `follow` keeps streaming until it exits.
    public func containerLogs(_ id: String, follow: Bool = false, tail: Int? = nil, timestamps: Bool = false)
        async throws(DockerError) -> OutputStream
    {
        let call = Call("GET", "/containers/\(id)/logs", query: [
            ("stdout", "true"), ("stderr", "true"), ("follow", follow ? "true" : "false"),
            ("tail", tail.map(String.init) ?? "all"), ("timestamps", timestamps ? "true" : "false"),
        ])
        let chunks = try await stream(call)
        return OutputStream(chunks: chunks, multiplexed: true)
    }
}

/// One sample of `GET /containers/{id}/stats`: what `knify-sandbox ls` shows.
public struct ContainerStats: Decodable, Sendable, Equatable {
    /// CPU time used since the container started, in nanoseconds.
    public let cpuNanoseconds: UInt64
    /// Memory in use, in bytes (0 when the engine reports none).
    public let memoryBytes: UInt64

    enum CodingKeys: String, CodingKey { case cpuStats = "cpu_stats", memoryStats = "memory_stats" }
    enum CPUKeys: String, CodingKey { case cpuUsage = "cpu_usage" }
    enum UsageKeys: String, CodingKey { case totalUsage = "total_usage" }
    enum MemoryKeys: String, CodingKey { case usage }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let cpu = try? container.nestedContainer(keyedBy: CPUKeys.self, forKey: .cpuStats)
            .nestedContainer(keyedBy: UsageKeys.self, forKey: .cpuUsage)
        cpuNanoseconds = (try? cpu?.decodeIfPresent(UInt64.self, forKey: .totalUsage)) ?? 0
        let memory = try? container.nestedContainer(keyedBy: MemoryKeys.self, forKey: .memoryStats)
        memoryBytes = (try? memory?.decodeIfPresent(UInt64.self, forKey: .usage)) ?? 0
    }
}

extension DockerClient {
    /// One stats sample without waiting for a second one (`one-shot`), so listing many containers stays quick.
    public func containerStats(_ id: String) async throws(DockerError) -> ContainerStats {
        try await send(Call("GET", "/containers/\(id)/stats", query: [("stream", "false"), ("one-shot", "true")]),
                       as: ContainerStats.self)
    }
}
