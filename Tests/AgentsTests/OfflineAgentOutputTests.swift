import Agents
import Foundation
import KnifyTestSupport
import Testing

/// The offline agent's real output (`Images/local/rootfs/usr/local/bin/knify-agent`, run by the host's busybox
/// as the sandbox image runs it), driven by the drivers' own argv: what Knify will actually parse.
@Suite("Offline agent output parses")
struct OfflineAgentOutputTests {
    static let busybox = "/bin/busybox"

    /// A throwaway home (agent state) and workspace, plus a PATH of busybox applets only, like the image.
    struct Sandbox {
        let root: URL
        var home: URL { root.appendingPathComponent("home") }
        var workspace: URL { root.appendingPathComponent("workspace") }
        var bin: URL { root.appendingPathComponent("bin") }

        init() throws {
            root = FileManager.default.temporaryDirectory
                .appendingPathComponent("knify-agents-test-\(UUID().uuidString.prefix(8).lowercased())")
            for dir in [home, workspace, bin] {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            }
            let install = try OfflineAgentOutputTests.run([OfflineAgentOutputTests.busybox, "--install", "-s", bin.path],
                                                          environment: [:], cwd: root)
            guard install.exitCode == 0 else { throw ChildProcess.Failure(message: "busybox --install failed: \(install.stderr)") }
        }

        func remove() { try? FileManager.default.removeItem(at: root) }
    }

    struct Output {
        let exitCode: Int
        let stdout: Data
        let stderr: String
    }

    /// Runs argv to completion; output goes to files, so no pipe can fill up and stall the agent.
    static func run(_ argv: [String], environment: [String: String], cwd: URL) throws -> Output {
        let outURL = cwd.appendingPathComponent(".out-\(UUID().uuidString)")
        let errURL = cwd.appendingPathComponent(".err-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let exitCode = try ChildProcess.run(argv, environment: environment, cwd: cwd.path,
                                            stdout: outURL.path, stderr: errURL.path)
        return Output(exitCode: Int(exitCode),
                      stdout: try Data(contentsOf: outURL),
                      stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    /// One turn of `driver`'s CLI as the offline agent: the driver's argv with the script in place of the CLI.
    /// `IS_SANDBOX=1` only because these tests may run as root, where the claude dialect (like the real CLI)
    /// refuses `bypassPermissions`; in the image the agent runs as uid 1000 and needs no such switch.
    static func turn(_ driver: AgentDriver, in sandbox: Sandbox, argv: [String], apiKey: String? = nil) throws
        -> Output
    {
        var environment = [
            "PATH": sandbox.bin.path, "HOME": sandbox.home.path, "KNIFY_AGENT_DIALECT": driver.dialect.rawValue,
            "IS_SANDBOX": "1", "TMPDIR": sandbox.root.path,
        ]
        for pair in driver.environment(apiKey: apiKey) {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { environment[parts[0]] = parts[1] }
        }
        let command = [busybox, "sh", knifyAgentScript.path] + argv.dropFirst()
        return try run(command, environment: environment, cwd: sandbox.workspace)
    }

    /// Feeds stdout through a LineSplitter in uneven chunks, as exec output arrives, and parses every line.
    static func parse(_ output: Output, with parser: inout AgentStreamParser) -> [AgentEvent] {
        var splitter = LineSplitter()
        var events: [AgentEvent] = []
        let bytes = [UInt8](output.stdout)
        var start = 0
        var size = 1
        while start < bytes.count {
            let end = min(bytes.count, start + size)
            for line in splitter.feed(bytes[start..<end]) { events += parser.parse(line: line, receivedAt: fixedNow) }
            start = end
            size = size * 7 % 4093 + 1
        }
        if let tail = splitter.finish() { events += parser.parse(line: tail, receivedAt: fixedNow) }
        return events
    }

    static func requireBusybox() throws {
        guard FileManager.default.isExecutableFile(atPath: busybox) else {
            throw ChildProcess.Failure(message: "\(busybox) is missing: `make deps` installs busybox-static")
        }
    }

    @Test("a default turn, then a resumed one, through each driver's argv", arguments: AgentDriver.all.map(\.jobType))
    func turnAndResume(jobType: String) throws {
        try Self.requireBusybox()
        let driver = try #require(AgentDriver.forJobType(jobType))
        let sandbox = try Sandbox()
        defer { sandbox.remove() }

        var sessionId: String?
        if let create = driver.createSessionCommand() {
            let created = try Self.turn(driver, in: sandbox, argv: create)
            #expect(created.exitCode == 0, "\(created.stderr)")
            sessionId = driver.sessionId(fromCreateChatOutput: String(decoding: created.stdout, as: UTF8.self))
            #expect(sessionId != nil)
        }

        let prompt = "Summarise the \"repo\" — héllo ✓"
        let model = try driver.validateModel(nil)
        let first = try Self.turn(driver, in: sandbox, argv: driver.turnCommand(
            prompt: prompt, model: model, sessionId: sessionId, workspace: sandbox.workspace.path))
        #expect(first.exitCode == 0, "\(first.stderr)")
        var parser = driver.makeParser(secrets: [])
        let events = Self.parse(first, with: &parser)
        #expect(parser.unparsedLineCount == 0)
        #expect(!events.contains { $0.type == .system && $0.subtype != "init" }, "unknown lines")
        #expect(events.first?.type == .system)
        #expect(events.first?.subtype == "init")
        #expect(events.last?.type == .result)
        #expect(events.last?.status == .success)
        let captured = try #require(parser.sessionId)
        #expect(UUID(uuidString: captured) != nil)
        if let sessionId { #expect(captured == sessionId) }
        #expect(events.first { $0.type == .agentMessage }?.message == "Working on: \(prompt)")
        #expect(parser.finalText?.hasSuffix("Done.") == true)
        #expect(driver.failureReason(exitCode: first.exitCode, stderr: first.stderr, parser: parser) == nil)

        // The default work: a write of AGENT_TASK.md and `ls -la`, each answered under the same id and name.
        let uses = events.filter { $0.type == .toolUse }
        let results = events.filter { $0.type == .toolResult }
        #expect(uses.map(\.tool) == ["write_file", "run_shell_command"])
        #expect(results.map(\.tool) == ["write_file", "run_shell_command"])
        #expect(uses.map(\.toolCallId) == results.map(\.toolCallId))
        #expect(results.allSatisfy { $0.status == .success })
        #expect(uses.first?.parameters?["path"]?.stringValue?.hasSuffix("AGENT_TASK.md") == true)
        #expect(uses.first?.parameters?["content"]?.stringValue?.contains(prompt) == true)
        #expect(uses.last?.parameters?["command"] == "ls -la")
        #expect(FileManager.default.fileExists(atPath: sandbox.workspace.appendingPathComponent("AGENT_TASK.md").path))
        if driver.dialect == .gemini {
            #expect(events.filter { $0.type == .agentMessage }.count == 2)
            #expect(events.allSatisfy { $0.timestamp != fixedNow })
        }

        let second = try Self.turn(driver, in: sandbox, argv: driver.turnCommand(
            prompt: "@@write notes.txt\nnote\n@@end", model: model, sessionId: captured,
            workspace: sandbox.workspace.path))
        #expect(second.exitCode == 0, "\(second.stderr)")
        var resumed = driver.makeParser(secrets: [])
        let resumedEvents = Self.parse(second, with: &resumed)
        #expect(resumed.unparsedLineCount == 0)
        #expect(resumed.sessionId == captured)
        #expect(resumedEvents.first { $0.type == .agentMessage }?.message
            == "Resuming session \(captured). Previous prompt: \(prompt)")
        #expect(resumedEvents.filter { $0.type == .toolUse }.map(\.tool) == ["write_file"])
    }

    @Test("models, failing tools, error results, failures and a leading dash", arguments: AgentDriver.all.map(\.jobType))
    func failures(jobType: String) throws {
        try Self.requireBusybox()
        let driver = try #require(AgentDriver.forJobType(jobType))
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let workspace = sandbox.workspace.path
        let model = try #require(driver.allowedModels.last)

        // A failing command, then an error result.
        let failing = try Self.turn(driver, in: sandbox, argv: driver.turnCommand(
            prompt: "@@run echo out; echo err >&2; exit 3\n@@result-error tests failed", model: model,
            sessionId: nil, workspace: workspace))
        #expect(failing.exitCode == 1)
        var parser = driver.makeParser(secrets: [])
        let events = Self.parse(failing, with: &parser)
        #expect(parser.unparsedLineCount == 0)
        #expect(parser.sessionId != nil)
        let initEvent = try #require(events.first)
        switch driver.dialect {
        case .cursor: #expect(initEvent.model == "GPT-5")
        case .claude: #expect(initEvent.model == "claude-haiku-4-5")
        case .gemini: #expect(initEvent.model == "gemini-2.5-flash")
        }
        let shellResult = try #require(events.first { $0.type == .toolResult })
        #expect(shellResult.tool == "run_shell_command")
        #expect(shellResult.status == .error)
        #expect(shellResult.message?.isEmpty == false)
        #expect(events.last?.type == .result)
        #expect(events.last?.status == .error)
        #expect(parser.resultIsError == true)
        #expect(driver.failureReason(exitCode: failing.exitCode, stderr: failing.stderr, parser: parser)
            == "tests failed")

        // A crash with no result line: the reason comes from stderr.
        let crash = try Self.turn(driver, in: sandbox, argv: driver.turnCommand(
            prompt: "@@fail 3 out of memory", model: "auto", sessionId: nil, workspace: workspace))
        #expect(crash.exitCode == 3)
        var crashParser = driver.makeParser(secrets: [])
        _ = Self.parse(crash, with: &crashParser)
        #expect(crashParser.unparsedLineCount == 0)
        #expect(crashParser.sessionId != nil)
        #expect(crashParser.resultIsError == nil)
        #expect(driver.failureReason(exitCode: crash.exitCode, stderr: crash.stderr, parser: crashParser)
            == "out of memory")

        // A prompt that looks like an option still reaches the agent as the prompt.
        let dashed = try Self.turn(driver, in: sandbox, argv: driver.turnCommand(
            prompt: "--version is not a flag here", model: "auto", sessionId: nil, workspace: workspace))
        #expect(dashed.exitCode == 0, "\(dashed.stderr)")
        var dashParser = driver.makeParser(secrets: [])
        let dashEvents = Self.parse(dashed, with: &dashParser)
        #expect(dashEvents.first { $0.type == .agentMessage }?.message == "Working on: --version is not a flag here")
    }

    @Test("a flood of output streams through the splitter; a secret in the prompt never shows",
          arguments: AgentDriver.all.map(\.jobType))
    func floodAndSecrets(jobType: String) throws {
        try Self.requireBusybox()
        let driver = try #require(AgentDriver.forJobType(jobType))
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let secret = "sk-test-\(UUID().uuidString)"
        let output = try Self.turn(driver, in: sandbox, argv: driver.turnCommand(
            prompt: "use key \(secret)\n@@flood 300000", model: "auto", sessionId: nil,
            workspace: sandbox.workspace.path), apiKey: secret)
        #expect(output.exitCode == 0, "\(output.stderr)")
        var parser = driver.makeParser(secrets: [secret])
        let events = Self.parse(output, with: &parser)
        #expect(parser.unparsedLineCount == 0)
        #expect(events.filter { $0.type == .agentMessage }.count >= 300)
        let everything = try events.map { try encodedText($0) + $0.raw }.joined()
        #expect(!everything.contains(secret))
        #expect(everything.contains("[REDACTED]"))
        #expect(parser.finalText?.contains(secret) != true)
    }

    @Test("cursor refuses an unknown model on stderr; the reason is that line")
    func cursorBadModel() throws {
        try Self.requireBusybox()
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let output = try Self.turn(.cursor, in: sandbox, argv: AgentDriver.cursor.turnCommand(
            prompt: "hi", model: "gpt-99", sessionId: nil, workspace: sandbox.workspace.path))
        #expect(output.exitCode == 1)
        #expect(output.stdout.isEmpty)
        let parser = AgentDriver.cursor.makeParser(secrets: [])
        let expected = try String(
            contentsOf: TestFixtures.agentsDirectory.appendingPathComponent("cursor-agent.bad-model.stderr.txt"),
            encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(AgentDriver.cursor.failureReason(exitCode: output.exitCode, stderr: output.stderr, parser: parser)
            == expected)
    }
}
