import DockerEngine
import Foundation
import KnifyTestSupport
import SandboxPolicy
import Sandboxes
import Storage
import Testing

@Suite("Sandbox lifecycle against the real engine")
struct SandboxManagerTests {
    let client = TestEngine.client

    /// A manager on a node of its own, so parallel tests never see each other's sandboxes.
    func makeManager(image: String = TestEngine.image) throws -> (SandboxManager, SQLiteStore) {
        let policies = try ["default", "strict"].reduce(into: [String: Policy]()) {
            $0[$1] = try Policy.load(named: $1, from: TestFixtures.policiesDirectory)
        }
        let store = try SQLiteStore()
        let configuration = SandboxManager.Configuration(image: image, node: TestEngine.uniqueName("node"), policies: policies)
        return (SandboxManager(client: client, store: store, configuration: configuration), store)
    }

    func output(_ stream: SandboxManager.Execution.Output) async throws -> String {
        var text = ""
        for try await case .stdout(let bytes) in stream { text += String(decoding: bytes, as: UTF8.self) }
        return text
    }

    @Test("create: labelled, recorded, policy applied, workspace copied in as the sandbox's own")
    func create() async throws {
        let (manager, store) = try makeManager()
        var tar = TarWriter()
        tar.addFile("README.md", contents: Array("# project\n".utf8), uid: 1000, gid: 1000)
        let acquired = try await manager.acquire(.init(jobId: "job_test", workspace: tar.finish()))
        guard case .created(let record) = acquired else { Issue.record("expected a new sandbox"); return }

        #expect(record.id.hasPrefix("sbx_"))
        #expect(record.state == .active)
        #expect(try await store.sandbox(id: record.id)?.state == .active)
        let details = try await client.inspectContainer(record.containerName)
        #expect(details.config.labels?[SandboxManager.Label.sandbox] == record.id)
        #expect(details.config.labels?[SandboxManager.Label.node] == manager.configuration.node)
        #expect(details.config.labels?[SandboxManager.Label.job] == "job_test")
        #expect(details.hostConfig?.readonlyRootfs == true)
        #expect(details.hostConfig?.networkMode == "none")

        let execution = try await manager.exec(record.id, ExecSpec(cmd: ["sh", "-c", "cat /workspace/README.md; id -u"]))
        #expect(try await output(execution.output) == "# project\n1000\n")
        try await manager.destroy(record.id)
    }

    @Test("a session finds its sandbox again; pause freezes it between turns and the next turn thaws it")
    func reuseAndPause() async throws {
        let (manager, _) = try makeManager()
        let first = try await manager.acquire(.init(jobId: "job_1", sessionId: "session-a")).record
        try await manager.pause(first.id)
        #expect(try await client.inspectContainer(first.containerName).state.paused)
        let blocked = await #expect(throws: SandboxError.self) { try await manager.exec(first.id, ExecSpec(cmd: ["true"])) }
        #expect(blocked?.code == .invalidState)

        let again = try await manager.acquire(.init(jobId: "job_2", sessionId: "session-a"))
        #expect(again == .reused(again.record))
        #expect(again.record.id == first.id)
        #expect(again.record.state == .active)
        #expect(again.record.jobId == "job_2")
        #expect(try await TestEngine.settledPaused(first.containerName, expected: false) == false)

        let other = try await manager.acquire(.init(sessionId: "session-b")).record
        #expect(other.id != first.id)
        try await manager.destroy(first.id)
        try await manager.destroy(other.id)
    }

    @Test("destroy removes container and volume, and a second destroy is a no-op")
    func destroyTwice() async throws {
        let (manager, _) = try makeManager()
        let record = try await manager.acquire(.init()).record
        let destroyed = try await manager.destroy(record.id)
        #expect(destroyed.state == .cleaned)
        let container = await #expect(throws: DockerError.self) { try await client.inspectContainer(record.containerName) }
        #expect(container?.code == .notFound)
        #expect(try await client.listVolumes(labels: ["\(SandboxManager.Label.sandbox)=\(record.id)"]).isEmpty)
        #expect(try await manager.destroy(record.id).state == .cleaned)
    }

    @Test("a failed create leaves nothing behind and a record that says why")
    func failedCreate() async throws {
        let (manager, store) = try makeManager(image: "knify/no-such-image:missing")
        let error = await #expect(throws: SandboxError.self) { try await manager.acquire(.init()) }
        #expect(error?.code == .engine)
        let leftovers = try await client.listContainers(all: true, labels: ["\(SandboxManager.Label.node)=\(manager.configuration.node)"])
        #expect(leftovers.isEmpty)
        #expect(try await store.liveSandboxes(node: manager.configuration.node).isEmpty)
    }

    @Test("a container removed behind Knify's back marks its record lost")
    func lost() async throws {
        let (manager, store) = try makeManager()
        let record = try await manager.acquire(.init()).record
        try await client.removeContainer(record.containerName, force: true)
        let error = await #expect(throws: SandboxError.self) { try await manager.pause(record.id) }
        #expect(error?.code == .notFound)
        #expect(try await store.sandbox(id: record.id)?.state == .lost)
        try? await client.removeVolume(name: record.volumeName, force: true)
    }

    @Test("an unknown policy is refused before anything is created")
    func unknownPolicy() async throws {
        let (manager, _) = try makeManager()
        let error = await #expect(throws: SandboxError.self) { try await manager.acquire(.init(policy: "lenient")) }
        #expect(error?.code == .policy)
    }

    @Test("a strict sandbox runs under gVisor, and its execs carry the policy's seccomp filter (runsc alone does not)")
    func strictUnderGVisor() async throws {
        let (manager, _) = try makeManager()
        let record = try await manager.acquire(.init(policy: "strict")).record
        #expect(try await client.inspectContainer(record.containerName).hostConfig?.runtime == "runsc")
        let kernel = try await manager.run(record.id, ExecSpec(cmd: ["cat", "/proc/version"]), timeout: .seconds(60))
        #expect(kernel.result.stdoutText.contains("Linux version 4.4.0"), "not gVisor: \(kernel.result.stdoutText)")
        let probe = try await manager.run(record.id, ExecSpec(cmd: ["knify-probe", "--json", "unshare_user", "io_uring_setup", "seccomp_mode"]),
                                          timeout: .seconds(120))
        #expect(probe.result.exitCode == 0, "\(probe.result.stderrText)")
        #expect(!probe.result.stdoutText.contains(#""blocked":false"#), "\(probe.result.stdoutText)")
        #expect(probe.result.stdoutText.split(separator: "\n").count == 3, "\(probe.result.stdoutText)")
        // The filter's variable is gone before the command runs.
        let environment = try await manager.run(record.id, ExecSpec(cmd: ["env"]), timeout: .seconds(60))
        #expect(!environment.result.stdoutText.contains(Policy.confineVariable))
        try await manager.destroy(record.id)
    }

    @Test("a command whose gVisor sandbox dies under it ends instead of waiting on the stream", .timeLimit(.minutes(5)))
    func gVisorSandboxDiesUnderACommand() async throws {
        let (manager, _) = try makeManager()
        let record = try await manager.acquire(.init(policy: "strict")).record
        let execution = try await manager.exec(record.id, ExecSpec(cmd: ["sh", "-c", "echo up; sleep 300"]))
        var iterator = execution.output.makeAsyncIterator()
        #expect(try await iterator.next() == .stdout(Array("up\n".utf8)))
        // As when gVisor's kernel dies (the OOM killer at the memory limit, a fork bomb at the pids limit).
        try await client.killContainer(record.containerName)
        do {
            while try await iterator.next() != nil {}
        } catch {
            #expect(error is SandboxError, "\(error)")
        }
        #expect(try await client.inspectContainer(record.containerName).state.running == false)
        try await manager.destroy(record.id)
    }

    @Test("a policy needing a runtime the engine lacks fails before create, saying how to register it")
    func absentRuntime() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("knify-runtime-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let seccomp = (TestFixtures.policiesDirectory as NSString).appendingPathComponent("seccomp/agent.json")
        let file = directory.appendingPathComponent("kata.json").path
        try #"{"seccomp": "\#(seccomp)", "runtime": "kata-runtime", "memory": "256m", "cpus": 0.5, "pids": 64}"#.write(toFile: file, atomically: true, encoding: .utf8)
        let policy = try Policy.load(file: file)
        let store = try SQLiteStore()
        let node = TestEngine.uniqueName("node")
        let manager = SandboxManager(client: client, store: store, configuration: .init(
            image: TestEngine.image, node: node, policies: ["kata": policy], defaultPolicy: "kata"))

        let error = await #expect(throws: SandboxError.self) { try await manager.acquire(.init(jobId: "job_kata")) }
        #expect(error?.code == .policy)
        #expect(error?.message.contains("kata-runtime") == true && error?.message.contains("daemon.json") == true, "\(String(describing: error))")
        // Nothing was created or recorded.
        #expect(try await client.listContainers(all: true, labels: ["\(SandboxManager.Label.node)=\(node)"]).isEmpty)
        #expect(try await store.liveSandboxes(node: node).isEmpty)
    }

    @Test("a timeout kills the command and everything it started, inside the sandbox")
    func timeout() async throws {
        let (manager, _) = try makeManager()
        let record = try await manager.acquire(.init()).record
        let quick = try await manager.run(record.id, ExecSpec(cmd: ["sh", "-c", "echo fine; exit 3"]), timeout: .seconds(60))
        #expect(quick.timedOut == false)
        #expect(quick.result.exitCode == 3)
        #expect(quick.result.stdoutText == "fine\n")

        let slow = try await manager.run(record.id, ExecSpec(cmd: ["sh", "-c", "echo started; sleep 301 & sleep 302; echo never"]),
                                         timeout: .milliseconds(500))
        #expect(slow.timedOut)
        #expect(slow.result.stdoutText == "started\n")
        let survivors = try await manager.run(record.id, ExecSpec(cmd: ["ps", "-o", "args"]), timeout: .seconds(60))
        #expect(!survivors.result.stdoutText.contains("sleep 30"), "left running: \(survivors.result.stdoutText)")
        try await manager.destroy(record.id)
    }

    @Test("terminate ends a streaming execution; closing the stream alone would not")
    func terminate() async throws {
        let (manager, _) = try makeManager()
        let record = try await manager.acquire(.init()).record
        let execution = try await manager.exec(record.id, ExecSpec(cmd: ["sh", "-c", "echo up; exec sleep 303"]))
        var iterator = execution.output.makeAsyncIterator()
        #expect(try await iterator.next() == .stdout(Array("up\n".utf8)))
        try await manager.terminate(execution)
        #expect(try await iterator.next() == nil)
        #expect(try await client.inspectExec(execution.execId).running == false)
        try await manager.destroy(record.id)
    }

    @Test("a pause that races a termination waits for it, so the killer is never frozen mid-way")
    func pauseWaitsForTermination() async throws {
        let (manager, _) = try makeManager()
        let record = try await manager.acquire(.init()).record
        let execution = try await manager.exec(record.id, ExecSpec(cmd: ["sh", "-c", "echo up; sleep 301 & sleep 302 & wait"]))
        var iterator = execution.output.makeAsyncIterator()
        #expect(try await iterator.next() == .stdout(Array("up\n".utf8)))
        // As a job does when its agent's output ends under a cancel: pause while the killer may still be looping.
        async let terminated: Void = manager.terminate(execution)
        async let paused = manager.pause(record.id)
        try await terminated
        #expect(try await paused.state == .paused)
        #expect(try await iterator.next() == nil)
        // The termination finished inside the sandbox (no container kill as a fallback), and nothing survived it.
        try await manager.resume(record.id)
        let survivors = try await manager.run(record.id, ExecSpec(cmd: ["ps", "-o", "args"]), timeout: .seconds(30))
        #expect(!survivors.result.stdoutText.contains("sleep 30"), "left running: \(survivors.result.stdoutText)")
        try await manager.destroy(record.id)
    }

    @Test("two resumes of one paused sandbox at once both succeed, with one thaw; a pause after them freezes it")
    func concurrentResume() async throws {
        let (manager, _) = try makeManager()
        let record = try await manager.acquire(.init()).record
        defer { Task { try? await manager.destroy(record.id) } }
        try await manager.pause(record.id)
        // Two thaws at the engine would fail the second ("not paused"): the second resume joins the first.
        async let first = manager.resume(record.id)
        async let second = manager.resume(record.id)
        #expect(try await first.state == .active)
        #expect(try await second.state == .active)
        #expect(try await manager.pause(record.id).state == .paused)
        #expect(try await TestEngine.settledPaused(record.containerName, expected: true))
    }

    @Test("two destroys of one sandbox at once both succeed")
    func concurrentDestroy() async throws {
        let (manager, _) = try makeManager()
        let record = try await manager.acquire(.init()).record
        async let first = manager.destroy(record.id, reason: "first")
        async let second = manager.destroy(record.id, reason: "second")
        #expect(try await first.state == .cleaned)
        #expect(try await second.state == .cleaned)
    }

    @Test("a container that fails to start is removed, and the error says why")
    func startFailure() async throws {
        // The engine accepts this tmpfs option at create and fails to mount it at start.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("knify-policy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let profile = TestFixtures.policiesDirectory + "/seccomp/agent.json"
        try #"{"seccomp":"\#(profile)","memory":"256m","cpus":1,"pids":64,"tmpfs":{"/tmp":"size=lots"}}"#
            .write(to: directory.appendingPathComponent("broken.json"), atomically: true, encoding: .utf8)
        let broken = try Policy.load(named: "broken", from: directory.path)
        let store = try SQLiteStore()
        let manager = SandboxManager(client: client, store: store, configuration: .init(
            image: TestEngine.image, node: TestEngine.uniqueName("node"), policies: ["broken": broken], defaultPolicy: "broken"))

        let error = await #expect(throws: SandboxError.self) { try await manager.acquire(.init()) }
        #expect(error?.message.contains("tmpfs") == true)
        let leftovers = try await client.listContainers(all: true, labels: ["\(SandboxManager.Label.node)=\(manager.configuration.node)"])
        #expect(leftovers.isEmpty)
        #expect(try await client.listVolumes(labels: ["\(SandboxManager.Label.node)=\(manager.configuration.node)"]).isEmpty)
        #expect(try await store.liveSandboxes(node: manager.configuration.node).isEmpty)
    }
}
