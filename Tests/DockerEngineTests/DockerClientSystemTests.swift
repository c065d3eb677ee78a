import DockerEngine
import KnifyTestSupport
import Testing

@Suite("Engine connection and version negotiation")
struct DockerClientSystemTests {
    let client = TestEngine.client

    @Test("negotiates the lower of the engine's API version and ours")
    func negotiatesVersion() async throws {
        let ping = try await client.ping()
        let engine = try #require(ping.apiVersion)
        let negotiated = try await client.apiVersion()
        #expect(negotiated == min(engine, DockerClient.maximumAPIVersion))
        #expect(negotiated >= DockerClient.minimumAPIVersion)
        // Versioned calls go through with the negotiated version.
        let version = try await client.version()
        #expect(APIVersion(version.apiVersion) == engine)
    }

    @Test("info reports the engine's seccomp support and runtimes")
    func info() async throws {
        let info = try await client.info()
        #expect(info.seccompEnabled)
        #expect(info.runtimes?["runc"] != nil)
    }

    @Test("a socket with no engine behind it is engineUnavailable, not a hang or a crash")
    func engineUnavailable() async throws {
        let missing = DockerClient(socketPath: "/tmp/knify-no-engine-\(UInt32.random(in: 0...UInt32.max)).sock")
        let error = await #expect(throws: DockerError.self) { try await missing.ping() }
        #expect(error?.code == .engineUnavailable)
        let versioned = await #expect(throws: DockerError.self) { try await missing.listContainers() }
        #expect(versioned?.code == .engineUnavailable)
    }

    @Test("DOCKER_HOST parsing", arguments: [
        (nil as String?, "/var/run/docker.sock" as String?),
        ("", "/var/run/docker.sock"),
        ("unix:///run/knify/docker.sock", "/run/knify/docker.sock"),
        ("tcp://127.0.0.1:2375", nil),
        ("unix://relative.sock", nil),
        ("unix:///" + String(repeating: "a", count: 120), nil),
    ])
    func dockerHost(value: String?, expected: String?) throws {
        if let expected {
            #expect(try DockerHost.socketPath(dockerHost: value) == expected)
        } else {
            let error = #expect(throws: DockerError.self) { try DockerHost.socketPath(dockerHost: value) }
            #expect(error?.code == .invalidArgument)
        }
    }

    @Test("API versions order numerically, not as text")
    func versionOrdering() throws {
        #expect(try #require(APIVersion("1.9")) < #require(APIVersion("1.41")))
        #expect(APIVersion("1.x") == nil)
        #expect(min(APIVersion(1, 52), DockerClient.maximumAPIVersion) == DockerClient.maximumAPIVersion)
    }
}
