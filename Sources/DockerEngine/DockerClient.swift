import Foundation
import Logging
import Synchronization

/// A typed client of the Docker Engine API over the engine's Unix socket, through libcurl.
///
/// The API version is negotiated on first use from `GET /_ping` (the lower of the engine's and ours), so one client
/// speaks to Debian's 20.10 (API 1.41) as well as to engines 29.x, which refuse versions below 1.44.
public final class DockerClient: Sendable {
    /// The newest API version this client was written against.
    public static let maximumAPIVersion = APIVersion(1, 47)
    /// Debian bookworm's engine (20.10) speaks 1.41; nothing older is supported.
    public static let minimumAPIVersion = APIVersion(1, 41)

    public let socketPath: String
    let transport: EngineTransport
    let logger: Logger
    private let negotiation = Mutex<Task<APIVersion, any Error>?>(nil)

    public init(socketPath: String = DockerHost.defaultSocketPath, logger: Logger = Logger(label: "knify.docker")) {
        self.socketPath = socketPath
        self.transport = EngineTransport(socketPath: socketPath)
        self.logger = logger
    }

    /// The client for `DOCKER_HOST` (a `unix://` URL) when set, else the default socket.
    public convenience init(environment: [String: String] = ProcessInfo.processInfo.environment,
                            logger: Logger = Logger(label: "knify.docker")) throws(DockerError) {
        self.init(socketPath: try DockerHost.socketPath(dockerHost: environment["DOCKER_HOST"]), logger: logger)
    }

    /// The API version in use, negotiating it on first call.
    public func apiVersion() async throws(DockerError) -> APIVersion {
        // One negotiation in flight, shared by every caller; a failed one is forgotten so the next call retries.
        let task = negotiation.withLock { current in
            if let current { return current }
            let task = Task { try await self.negotiate() }
            current = task
            return task
        }
        do {
            return try await task.value
        } catch {
            negotiation.withLock { current in if current == task { current = nil } }
            throw error as? DockerError ?? DockerError(.transport, "API version negotiation failed", cause: error)
        }
    }

    private func negotiate() async throws(DockerError) -> APIVersion {
        let ping = try await ping()
        guard let engine = ping.apiVersion else {
            throw DockerError(.unexpectedStatus, "the engine's /_ping reply has no Api-Version header")
        }
        guard engine >= Self.minimumAPIVersion else {
            throw DockerError(.invalidArgument,
                              "the engine speaks API \(engine); Knify needs \(Self.minimumAPIVersion) or newer")
        }
        let version = min(engine, Self.maximumAPIVersion)
        logger.debug("negotiated Docker API version", metadata: ["version": "\(version)", "engine": "\(engine)"])
        return version
    }

    // MARK: - Request plumbing shared by the topic files

    struct Call {
        var method: String
        var path: String
        var query: [(String, String)] = []
        var body: [UInt8]? = nil
        var contentType: String? = nil
        var headers: [String] = []
        var timeoutSeconds: Double? = nil
        /// Statuses that count as success besides 2xx (304 for start/stop of a container already there).
        var alsoAccept: Set<Int> = []
        /// Paths outside the versioned API (`/_ping`).
        var versioned = true

        init(_ method: String, _ path: String, query: [(String, String?)] = []) {
            self.method = method
            self.path = path
            self.query = query.compactMap { name, value in value.map { (name, $0) } }
        }

        mutating func json<Body: Encodable>(_ body: Body) throws(DockerError) {
            do {
                self.body = Array(try JSONEncoder.docker.encode(body))
            } catch {
                throw DockerError(.invalidArgument, "cannot encode the request body", cause: error)
            }
            // The engine checks the content type; libcurl would otherwise say form-encoded.
            contentType = "application/json"
        }
    }

    private func request(for call: Call) async throws(DockerError) -> CurlTransfer.Request {
        var path = call.path
        if call.versioned { path = "/v\(try await apiVersion())" + path }
        if !call.query.isEmpty {
            path += "?" + call.query.map { "\(Self.percentEncode($0))=\(Self.percentEncode($1))" }.joined(separator: "&")
        }
        var headers = call.headers
        if let contentType = call.contentType { headers.append("Content-Type: \(contentType)") }
        return CurlTransfer.Request(method: call.method, path: path, socketPath: socketPath, headers: headers,
                                    body: call.body, timeoutSeconds: call.timeoutSeconds)
    }

    /// Sends a call and reads the whole reply; statuses outside 2xx (and `alsoAccept`) become `DockerError`s.
    func send(_ call: Call) async throws(DockerError) -> EngineResponse {
        let response = try await transport.send(try await request(for: call))
        guard (200..<300).contains(response.status) || call.alsoAccept.contains(response.status) else {
            throw DockerError.fromStatus(response.status, body: response.body, context: "\(call.method) \(call.path)")
        }
        return response
    }

    func send<Reply: Decodable>(_ call: Call, as type: Reply.Type) async throws(DockerError) -> Reply {
        try decode(type, from: try await send(call).body, context: "\(call.method) \(call.path)")
    }

    /// Sends a call whose reply body is a stream; throws for error statuses before any body is handed out.
    func stream(_ call: Call, awaitHead: Bool = true) async throws(DockerError) -> ByteChunks {
        try await transport.stream(try await request(for: call), awaitHead: awaitHead)
    }

    func decode<Value: Decodable>(_ type: Value.Type, from body: [UInt8], context: String) throws(DockerError) -> Value {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch {
            let sample = String(decoding: body.prefix(200), as: UTF8.self)
            throw DockerError(.decoding, "\(context): unexpected reply \(sample)", cause: error)
        }
    }

    static func percentEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// Engine filters are a JSON object of string lists: `{"label":["io.knify.sandbox"]}`.
    static func filters(_ filters: [String: [String]]) -> String? {
        guard !filters.isEmpty, let data = try? JSONEncoder.docker.encode(filters) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A Docker Engine API version such as 1.41.
public struct APIVersion: Comparable, Hashable, Sendable, CustomStringConvertible {
    public let major: Int
    public let minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    public init?(_ text: String) {
        let parts = text.split(separator: ".")
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
        self.init(major, minor)
    }

    public var description: String { "\(major).\(minor)" }

    public static func < (lhs: APIVersion, rhs: APIVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }
}

/// Where the engine listens.
public enum DockerHost {
    public static let defaultSocketPath = "/var/run/docker.sock"
    /// `sockaddr_un.sun_path` holds 108 bytes including the terminating NUL.
    static let maximumSocketPathBytes = 107

    /// The socket path named by a `DOCKER_HOST` value (`unix:///path`), or the default when it is unset or empty.
    public static func socketPath(dockerHost: String?) throws(DockerError) -> String {
        guard let dockerHost, !dockerHost.isEmpty else { return defaultSocketPath }
        guard dockerHost.hasPrefix("unix://") else {
            throw DockerError(.invalidArgument,
                              "DOCKER_HOST=\(dockerHost) is not supported: Knify talks to the engine over a Unix socket (unix:///path)")
        }
        let path = String(dockerHost.dropFirst("unix://".count))
        guard path.hasPrefix("/") else {
            throw DockerError(.invalidArgument, "DOCKER_HOST=\(dockerHost) must name an absolute socket path")
        }
        guard path.utf8.count <= maximumSocketPathBytes else {
            throw DockerError(.invalidArgument,
                              "the socket path \(path) is longer than \(maximumSocketPathBytes) bytes, the Linux limit")
        }
        return path
    }
}

struct EngineMessage: Decodable {
    let message: String

    static func decode(_ body: [UInt8]) -> String? {
        (try? JSONDecoder().decode(EngineMessage.self, from: Data(body)))?.message
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension JSONEncoder {
    static var docker: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
