import CompressNIO
import DockerEngine
import Foundation
import Hummingbird
import Logging
import HummingbirdTesting
import KnifyServer
import KnifyTestSupport
import Storage
import Testing

/// A Knify server in-process over real services (real engine, offline agent, SQLite in a temp folder), plus keys of
/// every kind. Requests go through Hummingbird's router test client, so everything but the socket is real.
struct APIHarness {
    let configuration: ServerConfiguration
    let services: KnifyServices
    /// jobs:read + jobs:write in tenant `team-a`.
    let writer: String
    /// jobs:read only, `team-a`.
    let reader: String
    /// jobs:write only, `team-a`.
    let writeOnly: String
    /// jobs:read + jobs:write in tenant `team-b`.
    let otherTenant: String
    let admin: String

    init(rateLimits: RateLimits = RateLimits(free: 100, pro: 100_000, enterpriseDefault: 100_000), knapsRateLimit: Int = 100_000) async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("knify-api-\(UUID().uuidString)").path
        var configuration = ServerConfiguration(dataDirectory: data, policiesDirectory: TestFixtures.policiesDirectory,
                                                node: TestEngine.uniqueName("api"), rateLimits: rateLimits, sseKeepAlive: .seconds(1))
        // Knap schedules are tested with a simulated clock (KnapsTests), not by a scheduler on the wall clock.
        configuration.schedulerInterval = nil
        configuration.knapsRateLimit = knapsRateLimit
        self.configuration = configuration
        services = try await KnifyServices.start(configuration, logger: Logger(label: "test"))
        let store = services.store
        func key(_ scopes: [String], tenant: String = "team-a") async throws -> String {
            let made = APIKeys.make(name: "test", scopes: scopes, tenant: tenant, tier: "pro")
            try await store.insertAPIKey(made.record)
            return made.key
        }
        writer = try await key(["jobs:read", "jobs:write"])
        reader = try await key(["jobs:read"])
        writeOnly = try await key(["jobs:write"])
        otherTenant = try await key(["jobs:read", "jobs:write"], tenant: "team-b")
        admin = try await key(["admin"], tenant: "ops")
    }

    /// Runs `body` against the app, then removes the sandboxes this harness's node made.
    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = buildApplication(configuration, services: services)
        do {
            try await app.test(.router, body)
        } catch {
            await sweep()
            throw error
        }
        await sweep()
    }

    private func sweep() async {
        await services.sandboxes.stopMaintenance()
        await TestEngine.sweep(node: configuration.node)
    }
}

/// Requests and replies in the shapes the tests read.
extension TestClientProtocol {
    @discardableResult
    func call(_ method: HTTPRequest.Method, _ uri: String, key: String? = nil, json: String? = nil,
              headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers = extra
        if let key { headers[.authorization] = "Bearer \(key)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    var object: [String: Any] {
        get throws { try #require(try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]) }
    }

    var text: String { String(buffer: body) }

    /// Checks the reference's error envelope: exactly `error`, `detail` and `code`.
    func expectError(_ status: HTTPResponse.Status, _ code: String, detailContains: String? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(self.status == status, "\(text)", sourceLocation: sourceLocation)
        let object = try object
        #expect(Set(object.keys) == ["error", "detail", "code"], sourceLocation: sourceLocation)
        #expect(object["code"] as? String == code, "\(text)", sourceLocation: sourceLocation)
        if let detailContains {
            #expect((object["detail"] as? String)?.contains(detailContains) == true, "\(text)", sourceLocation: sourceLocation)
        }
    }
}

/// A gzip-compressed tar, as `POST /workspaces` takes it.
func tarGz(_ build: (inout TarWriter) -> Void) throws -> [UInt8] {
    var tar = TarWriter()
    build(&tar)
    var buffer = ByteBuffer(bytes: tar.finish())
    return Array(buffer: try buffer.compress(with: .gzip()))
}

/// A multipart/form-data body with a `name` field and a `workspace` file.
func multipart(name: String, file: [UInt8], boundary: String = "knify-test-boundary") -> (body: ByteBuffer, contentType: String) {
    var body = ByteBuffer()
    body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n\(name)\r\n")
    body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"workspace\"; filename=\"ws.tar.gz\"\r\nContent-Type: application/gzip\r\n\r\n")
    body.writeBytes(file)
    body.writeString("\r\n--\(boundary)--\r\n")
    return (body, "multipart/form-data; boundary=\(boundary)")
}
