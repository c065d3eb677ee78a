import DockerEngine
import Foundation
import KnifyTestSupport
import Testing

@Suite("Containers against the real engine")
struct DockerClientContainerTests {
    let client = TestEngine.client

    @Test("create, start, exec, inspect, remove")
    func roundTrip() async throws {
        var host = HostConfig(capDrop: ["ALL"], readonlyRootfs: true, pidsLimit: 64, memory: 64 << 20,
                              memorySwap: 64 << 20, nanoCpus: 500_000_000, tmpfs: ["/tmp": "size=8m"],
                              init: true)
        host.securityOpt = ["no-new-privileges"]
        var spec = TestEngine.idleSpec(hostConfig: host)
        spec.env = ["KNIFY_GREETING=hello"]
        spec.user = "1000:1000"
        spec.workingDir = "/workspace"
        let name = TestEngine.uniqueName("roundtrip")
        let created = try await client.createContainer(spec, name: name)
        #expect(created.warnings.isEmpty)
        try await client.startContainer(created.id)

        let details = try await client.inspectContainer(created.id)
        #expect(details.name == "/\(name)")
        #expect(details.state.running)
        #expect(details.config.labels?[TestEngine.testLabel] == "1")
        #expect(details.hostConfig?.readonlyRootfs == true)
        #expect(details.hostConfig?.memory == 64 << 20)
        #expect(details.hostConfig?.pidsLimit == 64)

        let result = try await client.exec(in: created.id, ExecSpec(cmd: ["sh", "-c", "echo $KNIFY_GREETING; id -u; pwd"]))
        #expect(result.exitCode == 0)
        #expect(result.stdoutText == "hello\n1000\n/workspace\n")

        try await client.removeContainer(created.id, force: true)
        let gone = await #expect(throws: DockerError.self) { try await client.inspectContainer(created.id) }
        #expect(gone?.code == .notFound)
        #expect(gone?.status == 404)
    }

    @Test("list filters by label")
    func listByLabel() async throws {
        let value = UUID().uuidString
        try await TestEngine.withContainer(TestEngine.idleSpec(labels: ["io.knify.test.list": value]), start: false) { id in
            let matching = try await client.listContainers(all: true, labels: ["io.knify.test.list=\(value)"])
            #expect(matching.map(\.id) == [id])
            #expect(matching.first?.labels["io.knify.test.list"] == value)
            #expect(matching.first?.state == "created")
            let running = try await client.listContainers(all: false, labels: ["io.knify.test.list=\(value)"])
            #expect(running.isEmpty)
        }
    }

    @Test("pause freezes the container; exec into it is a conflict; unpause thaws it")
    func pauseUnpause() async throws {
        try await TestEngine.withContainer { id in
            try await client.pauseContainer(id)
            #expect(try await client.inspectContainer(id).state.paused)
            let blocked = await #expect(throws: DockerError.self) { try await client.exec(in: id, "true") }
            #expect(blocked?.code == .conflict)
            try await client.unpauseContainer(id)
            #expect(try await TestEngine.settledPaused(id, expected: false) == false)
            #expect(try await client.exec(in: id, "true").exitCode == 0)
        }
    }

    @Test("errors: 404 for a missing container, 409 for a taken name")
    func errorMapping() async throws {
        let missing = await #expect(throws: DockerError.self) {
            try await client.startContainer("knify-test-does-not-exist")
        }
        #expect(missing?.code == .notFound)
        #expect(missing?.message.contains("knify-test-does-not-exist") == true)

        let name = TestEngine.uniqueName("conflict")
        try await TestEngine.withContainer(name: name, start: false) { _ in
            let conflict = await #expect(throws: DockerError.self) {
                try await client.createContainer(TestEngine.idleSpec(), name: name)
            }
            #expect(conflict?.code == .conflict)
            #expect(conflict?.status == 409)
        }
    }

    @Test("a seccomp profile the engine rejects passes create and fails start, clearly")
    func badSeccompProfile() async throws {
        let host = HostConfig(securityOpt: [#"seccomp={"defaultAction":"SCMP_ACT_NOT_A_THING","syscalls":[]}"#])
        try await TestEngine.withContainer(TestEngine.idleSpec(hostConfig: host), start: false) { id in
            let error = await #expect(throws: DockerError.self) { try await client.startContainer(id) }
            #expect(error?.message.lowercased().contains("seccomp") == true)
            let state = try await client.inspectContainer(id).state
            #expect(state.running == false)
        }
    }

    @Test("start and stop are idempotent (304 is success); wait reports the exit code")
    func startStopWait() async throws {
        try await TestEngine.withContainer { id in
            try await client.startContainer(id)
            try await client.stopContainer(id, timeoutSeconds: 1)
            try await client.stopContainer(id, timeoutSeconds: 1)
            #expect(try await client.inspectContainer(id).state.running == false)
        }
        var spec = TestEngine.idleSpec()
        spec.cmd = ["sh", "-c", "exit 7"]
        try await TestEngine.withContainer(spec, start: false) { id in
            try await client.startContainer(id)
            let result = try await client.waitContainer(id, condition: .notRunning)
            #expect(result.statusCode == 7)
        }
    }

    @Test("kill stops a running container with the signal given")
    func kill() async throws {
        try await TestEngine.withContainer { id in
            try await client.killContainer(id, signal: "KILL")
            let result = try await client.waitContainer(id)
            #expect(result.statusCode == 137)
        }
    }

    @Test("logs are demultiplexed")
    func logs() async throws {
        var spec = TestEngine.idleSpec()
        spec.cmd = ["sh", "-c", "echo to-out; echo to-err >&2"]
        try await TestEngine.withContainer(spec) { id in
            _ = try await client.waitContainer(id)
            var out = "", err = ""
            for try await chunk in try await client.containerLogs(id) {
                switch chunk {
                case .stdout(let bytes): out += String(decoding: bytes, as: UTF8.self)
                case .stderr(let bytes): err += String(decoding: bytes, as: UTF8.self)
                }
            }
            #expect(out == "to-out\n")
            #expect(err == "to-err\n")
        }
    }

    @Test("commit snapshots the root filesystem into an image")
    func commit() async throws {
        try await TestEngine.withContainer { id in
            #expect(try await client.exec(in: id, "sh", "-c", "echo committed > /home/agent/marker").exitCode == 0)
            let repository = TestEngine.uniqueName("commit")
            let imageId = try await client.commitContainer(id, repository: repository, tag: "t1")
            var spec = TestEngine.idleSpec()
            spec.image = "\(repository):t1"
            spec.cmd = ["cat", "/home/agent/marker"]
            try await TestEngine.withContainer(spec) { copy in
                #expect(try await client.waitContainer(copy).statusCode == 0)
                var out: [UInt8] = []
                for try await case .stdout(let bytes) in try await client.containerLogs(copy) { out += bytes }
                #expect(String(decoding: out, as: UTF8.self) == "committed\n")
            }
            try await client.removeImage(imageId, force: true)
        }
    }

    @Test("named volumes are created, mounted, listed by label and removed")
    func volumes() async throws {
        let name = TestEngine.uniqueName("vol")
        let volume = try await client.createVolume(name: name, labels: [TestEngine.testLabel: "1"])
        #expect(volume.name == name)
        var spec = TestEngine.idleSpec()
        spec.hostConfig?.mounts = [Mount(type: .volume, source: name, target: "/workspace")]
        try await TestEngine.withContainer(spec) { id in
            let result = try await client.exec(in: id, "sh", "-c", "echo kept > /workspace/f && cat /workspace/f")
            #expect(result.stdoutText == "kept\n")
        }
        #expect(try await client.listVolumes(labels: [TestEngine.testLabel]).contains { $0.name == name })
        try await client.removeVolume(name: name)
        let gone = await #expect(throws: DockerError.self) { try await client.removeVolume(name: name) }
        #expect(gone?.code == .notFound)
    }
}
