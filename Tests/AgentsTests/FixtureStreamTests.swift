import Agents
import Foundation
import KnifyTestSupport
import Testing

/// Every sample stream in `shared/fixtures/agents/` maps line by line onto the normalized events.
@Suite("Sample streams normalize")
struct FixtureStreamTests {
    @Test("every sample line parses, none is left unparsed")
    func everySampleParses() throws {
        let samples: [(String, AgentStreamParser.Dialect)] = [
            ("cursor-agent.success.jsonl", .cursor), ("cursor-agent.rejected-tool.jsonl", .cursor),
            ("claude.success.jsonl", .claude), ("claude.max-turns.jsonl", .claude),
            ("gemini.success.jsonl", .gemini), ("gemini.error.jsonl", .gemini),
        ]
        let listed = try FileManager.default.contentsOfDirectory(atPath: TestFixtures.agentsDirectory.path)
            .filter { $0.hasSuffix(".jsonl") }
        #expect(Set(listed) == Set(samples.map(\.0)), "a new sample needs its own test")
        for (name, dialect) in samples {
            let (events, parser) = try parseFixture(name, dialect)
            #expect(!events.isEmpty)
            #expect(parser.unparsedLineCount == 0, "\(name)")
            #expect(!events.contains { $0.type == .system && $0.subtype != "init" }, "\(name): unknown lines")
            for event in events { #expect(!event.raw.isEmpty) }
            // The samples' objects are what the fixtures loader sees too.
            #expect(try TestFixtures.agentStream(name).count == (try fixtureLines(name)).filter { !$0.isEmpty }.count)
        }
    }

    @Test("cursor success: init, thinking, message, write and shell calls, result")
    func cursorSuccess() throws {
        let (events, parser) = try parseFixture("cursor-agent.success.jsonl", .cursor)
        #expect(events.map(\.type) == [.system, .thinking, .agentMessage, .toolUse, .toolResult, .toolUse,
                                        .toolResult, .agentMessage, .result])
        let sessionId = "3f0c2a9e-5d1b-4c7e-9a55-0b8e2f6d1c44"
        #expect(events[0].subtype == "init")
        #expect(events[0].sessionId == sessionId)
        #expect(events[0].model == "Claude 4.5 Sonnet")
        #expect(events[1].message == "Simple iterative loop.")
        #expect(events[1].timestamp == Date(timeIntervalSince1970: 1_763_373_605.120))
        #expect(events[2].message == "I'll create a fibonacci script")
        #expect(events[2].timestamp == fixedNow)

        let write = events[3]
        #expect(write.tool == "write_file")
        #expect(write.rawTool == "writeToolCall")
        #expect(write.toolCallId == "toolu_01A")
        #expect(write.parameters?["path"] == "fibonacci.py")
        #expect(write.parameters?["content"]?.stringValue?.hasPrefix("def fib(n):\n") == true)
        #expect(write.parameters?.objectValue?.keys.sorted() == ["content", "path"])
        let written = events[4]
        #expect(written.tool == "write_file")
        #expect(written.toolCallId == "toolu_01A")
        #expect(written.status == .success)
        #expect(written.isError == false)
        #expect(written.output?["linesCreated"] == 7)

        let shell = events[5]
        #expect(shell.tool == "run_shell_command")
        #expect(shell.parameters == ["command": "python3 fibonacci.py", "working_directory": "/workspace",
                                     "timeout": 30000])
        #expect(events[6].status == .success)
        #expect(events[6].output?["stdout"] == "[0, 1, 1, 2, 3, 5, 8, 13, 21, 34]\n")

        let result = events[8]
        #expect(result.status == .success)
        #expect(result.isError == false)
        #expect(result.sessionId == sessionId)
        #expect(result.durationMs == 5234)
        #expect(result.usage?["inputTokens"] == 26967)
        #expect(result.message == "I'll create a fibonacci scriptDone: fibonacci.py prints the first 10 numbers.")

        #expect(parser.sessionId == sessionId)
        #expect(parser.finalText == "I'll create a fibonacci scriptDone: fibonacci.py prints the first 10 numbers.")
        #expect(parser.resultIsError == false)
        #expect(AgentDriver.cursor.failureReason(exitCode: 0, stderr: "", parser: parser) == nil)
    }

    @Test("cursor rejected tool: status rejected with its reason; function tools keep their name")
    func cursorRejected() throws {
        let (events, parser) = try parseFixture("cursor-agent.rejected-tool.jsonl", .cursor)
        #expect(events.map(\.type) == [.system, .toolUse, .toolResult, .toolUse, .result])
        #expect(events[0].model == "Auto")
        let rejected = events[2]
        #expect(rejected.tool == "run_shell_command")
        #expect(rejected.toolCallId == "toolu_02A")
        #expect(rejected.status == .rejected)
        #expect(rejected.isError == true)
        #expect(rejected.message == "Command requires approval, which is unavailable in headless mode")
        #expect(rejected.output?["reason"] == "Command requires approval, which is unavailable in headless mode")

        let mcp = events[3]
        #expect(mcp.tool == "mcp_lookup")
        #expect(mcp.rawTool == nil)
        #expect(mcp.toolCallId == "toolu_02B")
        #expect(mcp.parameters == ["q": "docs"])

        #expect(events[4].status == .success)
        #expect(events[4].message == "")
        #expect(parser.sessionId == "9d7e1b20-1111-4a2b-8c3d-44556677aa01")
        #expect(parser.finalText == nil)
        #expect(parser.resultIsError == false)
    }

    @Test("claude success: one event per content part, results name their tool")
    func claudeSuccess() throws {
        let (events, parser) = try parseFixture("claude.success.jsonl", .claude)
        #expect(events.map(\.type) == [.system, .agentMessage, .toolUse, .toolResult, .toolUse, .toolResult,
                                        .agentMessage, .result])
        let sessionId = "d667165d-479a-4bbd-973c-a60892c30178"
        #expect(events[0].sessionId == sessionId)
        #expect(events[0].model == "claude-sonnet-4-5")
        #expect(events[1].message == "Let me look at the files first.")

        let bash = events[2]
        #expect(bash.tool == "run_shell_command")
        #expect(bash.rawTool == "Bash")
        #expect(bash.toolCallId == "toolu_A")
        #expect(bash.parameters == ["command": "ls", "description": "List files"])
        let bashResult = events[3]
        #expect(bashResult.tool == "run_shell_command")
        #expect(bashResult.rawTool == "Bash")
        #expect(bashResult.toolCallId == "toolu_A")
        #expect(bashResult.status == .success)
        #expect(bashResult.isError == false)
        #expect(bashResult.output == "README.md\nmain.py")

        let write = events[4]
        #expect(write.tool == "write_file")
        #expect(write.rawTool == "Write")
        #expect(write.parameters == ["path": "/workspace/test_main.py", "content": "def test_ok():\n    assert True\n"])
        #expect(events[5].tool == "write_file")
        #expect(events[5].toolCallId == "toolu_B")

        let result = events[7]
        #expect(result.subtype == "success")
        #expect(result.status == .success)
        #expect(result.message == "Added test_main.py.")
        #expect(result.durationMs == 6809)
        #expect(result.sessionId == sessionId)
        #expect(result.usage?["output_tokens"] == 88)
        #expect(parser.sessionId == sessionId)
        #expect(parser.finalText == "Added test_main.py.")
        #expect(AgentDriver.claude.failureReason(exitCode: 0, stderr: "", parser: parser) == nil)
    }

    @Test("claude max turns: an error result with its subtype")
    func claudeMaxTurns() throws {
        let (events, parser) = try parseFixture("claude.max-turns.jsonl", .claude)
        #expect(events.map(\.type) == [.system, .result])
        let result = events[1]
        #expect(result.subtype == "error_max_turns")
        #expect(result.status == .error)
        #expect(result.isError == true)
        #expect(result.durationMs == 120_000)
        #expect(result.message == "reached the maximum number of turns (25)")
        #expect(parser.sessionId == "0b5a7c1e-2222-4d3e-9f00-aabbccddeeff")
        #expect(parser.resultIsError == true)
        #expect(parser.resultSubtype == "error_max_turns")
        #expect(parser.finalText == nil)
    }

    @Test("gemini success: deltas stay separate, the result joins them")
    func geminiSuccess() throws {
        let (events, parser) = try parseFixture("gemini.success.jsonl", .gemini)
        #expect(events.map(\.type) == [.system, .toolUse, .toolResult, .agentMessage, .agentMessage, .result])
        let sessionId = "7c1d2e3f-3333-4abc-8def-001122334455"
        #expect(events[0].sessionId == sessionId)
        #expect(events[0].model == "gemini-2.5-pro")
        #expect(events[0].timestamp == Date(timeIntervalSince1970: 1_794_909_600))
        #expect(events[1].tool == "run_shell_command")
        #expect(events[1].rawTool == nil)
        #expect(events[1].toolCallId == "shell-1")
        #expect(events[1].parameters == ["command": "wc -l README.md"])
        #expect(events[2].tool == "run_shell_command")
        #expect(events[2].status == .success)
        #expect(events[2].output == "42 README.md")
        #expect(events[2].timestamp == Date(timeIntervalSince1970: 1_794_909_601.2))
        #expect(events[3].message == "README.md has ")
        #expect(events[4].message == "42 lines.")
        let result = events[5]
        #expect(result.status == .success)
        #expect(result.message == "README.md has 42 lines.")
        #expect(result.durationMs == 2100)
        #expect(result.usage?["total_tokens"] == 310)
        #expect(result.sessionId == sessionId)
        #expect(parser.sessionId == sessionId)
        #expect(parser.finalText == "README.md has 42 lines.")
        #expect(AgentDriver.gemini.failureReason(exitCode: 0, stderr: "", parser: parser) == nil)
    }

    @Test("gemini error: failed tool, error event, error result")
    func geminiError() throws {
        let (events, parser) = try parseFixture("gemini.error.jsonl", .gemini)
        #expect(events.map(\.type) == [.system, .toolUse, .toolResult, .error, .result])
        #expect(events[1].tool == "read_file")
        #expect(events[1].parameters == ["path": "/workspace/missing.txt"])
        let failed = events[2]
        #expect(failed.tool == "read_file")
        #expect(failed.toolCallId == "read-9")
        #expect(failed.status == .error)
        #expect(failed.isError == true)
        #expect(failed.message == "File not found: /workspace/missing.txt")
        #expect(failed.subtype == "FILE_NOT_FOUND")
        #expect(events[3].message == "Loop detected, stopping execution")
        #expect(events[3].subtype == "warning")
        let result = events[4]
        #expect(result.status == .error)
        #expect(result.message == "Maximum session turns exceeded")
        #expect(result.subtype == "FatalTurnLimitedError")
        #expect(result.sessionId == "8e2f3a4b-4444-4bcd-9ef0-112233445566")
        #expect(parser.resultIsError == true)
        #expect(parser.errorMessage == "Maximum session turns exceeded")
        #expect(AgentDriver.gemini.failureReason(exitCode: 53, stderr: "", parser: parser)
            == "Maximum session turns exceeded")
    }

    @Test("encoding: snake_case keys, no nil fields, no raw, ISO-8601 with milliseconds")
    func encoding() throws {
        let (events, _) = try parseFixture("cursor-agent.success.jsonl", .cursor)
        let write = try encodedObject(events[3])
        #expect(Set(write.keys) == ["type", "timestamp", "tool", "tool_call_id", "parameters", "raw_tool"])
        #expect(write["type"] as? String == "tool_use")
        #expect(write["tool"] as? String == "write_file")
        #expect(write["tool_call_id"] as? String == "toolu_01A")
        let parameters = try #require(write["parameters"] as? [String: Any])
        #expect(parameters["path"] as? String == "fibonacci.py")

        let thinking = try encodedObject(events[1])
        #expect(thinking["timestamp"] as? String == "2025-11-17T10:00:05.120Z")
        #expect(Set(thinking.keys) == ["type", "timestamp", "message"])

        let result = try encodedObject(events[8])
        #expect(Set(result.keys) == ["type", "timestamp", "message", "status", "is_error", "session_id", "subtype",
                                     "duration_ms", "usage"])
        #expect(result["duration_ms"] as? Int == 5234)
        #expect(result["is_error"] as? Bool == false)

        for event in events {
            let text = try encodedText(event)
            #expect(!text.contains("\"raw\""))
            #expect(!text.contains("null"))
            let keys = try encodedObject(event).keys
            #expect(keys.allSatisfy { $0.allSatisfy { $0.isLowercase || $0 == "_" } }, "\(keys)")
        }

        // Decoding gives the event back, without its raw line.
        for event in events {
            let decoded = try JSONDecoder().decode(AgentEvent.self, from: Data(try encodedText(event).utf8))
            // Milliseconds survive; the Double underneath may differ in its last bits.
            #expect(abs(decoded.timestamp.timeIntervalSince(event.timestamp)) < 0.000_5)
            var expected = event
            expected.raw = ""
            expected.timestamp = decoded.timestamp
            #expect(decoded == expected)
        }
    }

    @Test("timestamps come from the line when it has one, else from the injected clock")
    func timestamps() {
        var gemini = AgentStreamParser(dialect: .gemini)
        let stamped = gemini.parse(line: #"{"type":"error","timestamp":"2026-11-17T11:00:02Z","message":"x"}"#,
                                   receivedAt: fixedNow)
        #expect(stamped.first?.timestamp == Date(timeIntervalSince1970: 1_794_913_202))
        let unstamped = gemini.parse(line: #"{"type":"error","message":"x"}"#, receivedAt: fixedNow)
        #expect(unstamped.first?.timestamp == fixedNow)
        let badStamp = gemini.parse(line: #"{"type":"error","timestamp":"yesterday","message":"x"}"#,
                                    receivedAt: fixedNow)
        #expect(badStamp.first?.timestamp == fixedNow)
    }
}
