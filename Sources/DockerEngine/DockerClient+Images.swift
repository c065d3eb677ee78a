import Foundation

public struct ImageSummary: Decodable, Sendable {
    public let id: String
    public let repoTags: [String]
    /// Unix seconds.
    public let created: Int64
    public let size: Int64
    public let labels: [String: String]

    enum CodingKeys: String, CodingKey {
        case id = "Id", repoTags = "RepoTags", created = "Created", size = "Size", labels = "Labels"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        repoTags = try container.decodeIfPresent([String].self, forKey: .repoTags) ?? []
        created = try container.decodeIfPresent(Int64.self, forKey: .created) ?? 0
        size = try container.decodeIfPresent(Int64.self, forKey: .size) ?? 0
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
    }
}

public struct ImageDetails: Decodable, Sendable {
    public let id: String
    public let repoTags: [String]?
    public let created: String?
    public let size: Int64?
    public let config: Config?

    public struct Config: Decodable, Sendable {
        public let user: String?
        public let env: [String]?
        public let workingDir: String?
        public let labels: [String: String]?
        public let cmd: [String]?

        enum CodingKeys: String, CodingKey {
            case user = "User", env = "Env", workingDir = "WorkingDir", labels = "Labels", cmd = "Cmd"
        }
    }

    enum CodingKeys: String, CodingKey {
        case id = "Id", repoTags = "RepoTags", created = "Created", size = "Size", config = "Config"
    }
}

/// One line of build or load progress, as the engine reports it.
public struct BuildProgress: Decodable, Sendable {
    public let stream: String?
    public let status: String?
    public let error: String?
    public let aux: Aux?

    public struct Aux: Decodable, Sendable {
        public let id: String?
        enum CodingKeys: String, CodingKey { case id = "ID" }
    }
}

public struct ImageBuildOptions: Sendable {
    public var tag: String
    public var dockerfile: String = "Dockerfile"
    public var labels: [String: String] = [:]
    /// `none` lets `RUN` steps work on an engine started with `--bridge=none`.
    public var networkMode: String = "none"
    public var noCache: Bool = false
    public var buildArgs: [String: String] = [:]

    public init(tag: String) { self.tag = tag }
}

extension DockerClient {
    public func listImages(reference: String? = nil) async throws(DockerError) -> [ImageSummary] {
        let filters = reference.map { ["reference": [$0]] } ?? [:]
        return try await send(Call("GET", "/images/json", query: [("filters", Self.filters(filters))]),
                              as: [ImageSummary].self)
    }

    public func inspectImage(_ name: String) async throws(DockerError) -> ImageDetails {
        try await send(Call("GET", "/images/\(Self.percentEncode(name))/json"), as: ImageDetails.self)
    }

    public func removeImage(_ name: String, force: Bool = false) async throws(DockerError) {
        _ = try await send(Call("DELETE", "/images/\(Self.percentEncode(name))",
                                query: [("force", force ? "true" : "false")]))
    }

    /// Builds an image from a tar of a build context (no registry needed when the Dockerfile starts `FROM scratch`).
    /// Returns the image id; `progress` sees every line the engine reports. A failed step throws `.buildFailed`.
    @discardableResult
    public func buildImage(context: [UInt8], options: ImageBuildOptions,
                           progress: (@Sendable (BuildProgress) -> Void)? = nil) async throws(DockerError) -> String {
        var buildArgs: String?
        if !options.buildArgs.isEmpty, let data = try? JSONEncoder.docker.encode(options.buildArgs) {
            buildArgs = String(decoding: data, as: UTF8.self)
        }
        var labels: String?
        if !options.labels.isEmpty, let data = try? JSONEncoder.docker.encode(options.labels) {
            labels = String(decoding: data, as: UTF8.self)
        }
        var call = Call("POST", "/build", query: [
            ("t", options.tag), ("dockerfile", options.dockerfile), ("networkmode", options.networkMode),
            ("rm", "true"), ("forcerm", "true"), ("nocache", options.noCache ? "true" : "false"),
            ("buildargs", buildArgs), ("labels", labels),
        ])
        call.body = context
        call.contentType = "application/x-tar"
        let imageId = try await followProgress(call, progress: progress)
        if let imageId { return imageId }
        return try await inspectImage(options.tag).id
    }

    /// A `docker save` style tar of one image (with its tags), for moving images between engines with no registry.
    public func exportImage(_ name: String) async throws(DockerError) -> [UInt8] {
        try await send(Call("GET", "/images/\(Self.percentEncode(name))/get")).body
    }

    /// Loads images from a `docker save` style tar.
    public func loadImages(tar: [UInt8], progress: (@Sendable (BuildProgress) -> Void)? = nil) async throws(DockerError) {
        var call = Call("POST", "/images/load", query: [("quiet", "false")])
        call.body = tar
        call.contentType = "application/x-tar"
        _ = try await followProgress(call, progress: progress)
    }

    /// Reads a JSON-lines progress stream to its end; an `error` line is a failure even though the status was 200.
    private func followProgress(_ call: Call, progress: (@Sendable (BuildProgress) -> Void)?)
        async throws(DockerError) -> String?
    {
        let chunks = try await stream(call)
        var imageId: String?
        var lines = JSONLines()
        for try await chunk in chunks {
            for line in lines.feed(chunk) {
                let item = try decode(BuildProgress.self, from: line, context: "\(call.method) \(call.path)")
                progress?(item)
                if let error = item.error { throw DockerError(.buildFailed, error) }
                if let id = item.aux?.id { imageId = id }
            }
        }
        return imageId
    }
}
