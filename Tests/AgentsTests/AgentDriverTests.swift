import Agents
import Foundation
import KnifyTestSupport
import Testing

@Suite("Agent drivers")
struct AgentDriverTests {
    @Test("one driver per agent job type")
    func lookup() throws {
        #expect(AgentDriver.forJobType("cursor_task") == .cursor)
        #expect(AgentDriver.forJobType("claude_task") == .claude)
        #expect(AgentDriver.forJobType("gemini_task") == .gemini)
        #expect(AgentDriver.forJobType("user_exam") == nil)
        #expect(AgentDriver.forJobType("Cursor_Task") == nil)
        #expect(throws: AgentError.self) { try AgentDriver.require(jobType: "nope") }
        do {
            _ = try AgentDriver.require(jobType: "nope")
        } catch {
            #expect(error.code == .unknownJobType)
            #expect(error.message.contains("cursor_task, claude_task, gemini_task"))
        }
        #expect(AgentDriver.cursor.cli == "cursor-agent")
        #expect(AgentDriver.claude.cli == "claude")
        #expect(AgentDriver.gemini.cli == "gemini")
        #expect(AgentDriver.cursor.apiKeyVariable == "CURSOR_API_KEY")
        #expect(AgentDriver.claude.apiKeyVariable == "ANTHROPIC_API_KEY")
        #expect(AgentDriver.gemini.apiKeyVariable == "GEMINI_API_KEY")
        #expect(AgentDriver.all.allSatisfy { $0.defaultModel == "auto" && $0.allowedModels.contains("auto") })
    }

    @Test("cursor argv, with and without session, with each model")
    func cursorArgv() {
        let driver = AgentDriver.cursor
        #expect(driver.turnCommand(prompt: "Write fib", model: "auto", sessionId: nil, workspace: "/workspace") == [
            "cursor-agent", "-p", "--output-format", "stream-json", "--trust", "--force",
            "--workspace", "/workspace", "--model", "auto", "Write fib",
        ])
        #expect(driver.turnCommand(prompt: "Add tests", model: "sonnet-4.5", sessionId: "3f0c-aa", workspace: "/w")
            == ["cursor-agent", "-p", "--output-format", "stream-json", "--trust", "--force",
                "--workspace", "/w", "--model", "sonnet-4.5", "--resume", "3f0c-aa", "Add tests"])
        #expect(driver.turnCommand(prompt: "--help me", model: "gpt-5", sessionId: nil, workspace: "/w").suffix(3)
            == ["gpt-5", "--", "--help me"])
        #expect(driver.createSessionCommand() == ["cursor-agent", "create-chat"])
        #expect(driver.sessionId(fromCreateChatOutput: "9d7e1b20-1111-4a2b-8c3d-44556677aa01\n")
            == "9d7e1b20-1111-4a2b-8c3d-44556677aa01")
        #expect(driver.sessionId(fromCreateChatOutput: "error: oops no\n") == nil)
    }

    @Test("claude argv: model names mapped, auto leaves the CLI's default")
    func claudeArgv() {
        let driver = AgentDriver.claude
        #expect(driver.turnCommand(prompt: "Hi", model: "auto", sessionId: nil, workspace: "/workspace") == [
            "claude", "-p", "Hi", "--output-format", "stream-json", "--verbose",
            "--permission-mode", "bypassPermissions",
        ])
        #expect(driver.turnCommand(prompt: "Hi", model: "sonnet-4.5", sessionId: "d667-1", workspace: "/workspace")
            == ["claude", "-p", "Hi", "--output-format", "stream-json", "--verbose", "--model", "claude-sonnet-4-5",
                "--resume", "d667-1", "--permission-mode", "bypassPermissions"])
        #expect(driver.cliModel(for: "opus-4.1") == "claude-opus-4-1")
        #expect(driver.cliModel(for: "haiku-4.5") == "claude-haiku-4-5")
        #expect(driver.turnCommand(prompt: "-rf", model: "auto", sessionId: nil, workspace: "/w") == [
            "claude", "-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "bypassPermissions",
            "--", "-rf",
        ])
        #expect(driver.createSessionCommand() == nil)
    }

    @Test("gemini argv: names pass through, auto omits -m")
    func geminiArgv() {
        let driver = AgentDriver.gemini
        #expect(driver.turnCommand(prompt: "Count", model: "auto", sessionId: nil, workspace: "/workspace") == [
            "gemini", "-p", "Count", "-o", "stream-json", "--approval-mode", "yolo", "--skip-trust",
        ])
        #expect(driver.turnCommand(prompt: "Count", model: "gemini-2.5-flash", sessionId: "7c1d", workspace: "/w")
            == ["gemini", "-p", "Count", "-o", "stream-json", "--approval-mode", "yolo", "--skip-trust",
                "-m", "gemini-2.5-flash", "-r", "7c1d"])
        #expect(driver.turnCommand(prompt: "-v please", model: "auto", sessionId: nil, workspace: "/w").prefix(2)
            == ["gemini", "--prompt=-v please"])
        #expect(driver.createSessionCommand() == nil)
    }

    @Test("model validation: default, allowed (any case), unknown names the list")
    func models() throws {
        for driver in AgentDriver.all {
            #expect(try driver.validateModel(nil) == "auto")
            #expect(try driver.validateModel("  ") == "auto")
            for model in driver.allowedModels { #expect(try driver.validateModel(model) == model) }
        }
        #expect(try AgentDriver.cursor.validateModel("Sonnet-4.5") == "sonnet-4.5")
        #expect(AgentDriver.cursor.allowedModels == ["auto", "sonnet-4.5", "sonnet-4.5-thinking", "opus-4.1",
                                                      "composer-1", "gpt-5"])
        #expect(AgentDriver.claude.allowedModels == ["auto", "sonnet-4.5", "opus-4.1", "haiku-4.5"])
        #expect(AgentDriver.gemini.allowedModels == ["auto", "gemini-2.5-pro", "gemini-2.5-flash"])
        do {
            _ = try AgentDriver.claude.validateModel("gpt-5")
            Issue.record("gpt-5 is not a claude model")
        } catch {
            #expect(error.code == .invalidModel)
            #expect(error.message.contains("gpt-5"))
            #expect(error.message.contains("auto, sonnet-4.5, opus-4.1, haiku-4.5"))
        }
        var configured = AgentDriver.gemini
        configured.allowedModels = ["auto", "gemini-3-pro"]
        #expect(try configured.validateModel("gemini-3-pro") == "gemini-3-pro")
        #expect(throws: AgentError.self) { try configured.validateModel("gemini-2.5-pro") }
    }

    @Test("session ids that could be options or paths are refused")
    func sessionIds() throws {
        try AgentDriver.cursor.validateSessionId("3f0c2a9e-5d1b-4c7e-9a55-0b8e2f6d1c44")
        for bad in ["", "-rf", "../x", "a b", "a/b", ".", "..", String(repeating: "a", count: 129), "é"] {
            do {
                try AgentDriver.claude.validateSessionId(bad)
                Issue.record("accepted \(bad)")
            } catch {
                #expect(error.code == .invalidSpec)
            }
        }
    }

    @Test("environment: the key only under the agent's own variable")
    func environment() {
        for driver in AgentDriver.all {
            let env = driver.environment(apiKey: "k-123")
            #expect(env.filter { $0.contains("k-123") } == ["\(driver.apiKeyVariable)=k-123"])
            #expect(env.contains("NO_COLOR=1"))
            #expect(!env.contains { $0.hasPrefix("IS_SANDBOX") })
            let others = AgentDriver.all.filter { $0 != driver }.map(\.apiKeyVariable)
            #expect(!env.contains { pair in others.contains { pair.hasPrefix($0 + "=") } })
            #expect(!driver.environment(apiKey: nil).contains { $0.hasPrefix(driver.apiKeyVariable + "=") })
            #expect(!driver.environment(apiKey: "").contains { $0.hasPrefix(driver.apiKeyVariable + "=") })
        }
    }

    @Test("failure reasons")
    func failureReasons() throws {
        let stderr = try String(
            contentsOf: TestFixtures.agentsDirectory.appendingPathComponent("cursor-agent.bad-model.stderr.txt"),
            encoding: .utf8)
        let cursorParser = AgentDriver.cursor.makeParser(secrets: [])
        #expect(AgentDriver.cursor.failureReason(exitCode: 1, stderr: stderr, parser: cursorParser)
            == "Cannot use this model: gpt-99. Available models: composer-1, auto, sonnet-4.5, sonnet-4.5-thinking, opus-4.1, gpt-5")

        let (_, maxTurns) = try parseFixture("claude.max-turns.jsonl", .claude)
        #expect(AgentDriver.claude.failureReason(exitCode: 1, stderr: "", parser: maxTurns)
            == "reached the maximum number of turns (25)")

        let geminiParser = AgentDriver.gemini.makeParser(secrets: [])
        #expect(AgentDriver.gemini.failureReason(exitCode: 53, stderr: "", parser: geminiParser)
            == "turn limit reached (exit code 53)")
        #expect(AgentDriver.gemini.failureReason(exitCode: 41, stderr: "\n", parser: geminiParser)
            == "authentication failed (exit code 41)")
        #expect(AgentDriver.claude.failureReason(exitCode: 53, stderr: "", parser: geminiParser)
            == "exited with code 53")
        #expect(AgentDriver.claude.failureReason(exitCode: 130, stderr: "", parser: geminiParser)?
            .hasPrefix("interrupted") == true)
        #expect(AgentDriver.cursor.failureReason(exitCode: 0, stderr: "", parser: cursorParser)
            == "the agent exited without a result")

        let (_, success) = try parseFixture("cursor-agent.success.jsonl", .cursor)
        #expect(AgentDriver.cursor.failureReason(exitCode: 0, stderr: "some noise", parser: success) == nil)
        #expect(AgentDriver.cursor.failureReason(exitCode: 3, stderr: "out of memory\n", parser: success)
            == "out of memory")

        let trust = "Workspace Trust Required\n\nThe workspace has not been trusted.\n    at main (cli.js:1)\n"
        #expect(AgentDriver.cursor.failureReason(exitCode: 1, stderr: trust, parser: cursorParser)
            == "The workspace has not been trusted.")
    }
}
