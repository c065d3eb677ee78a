import DockerEngine
import Foundation
import KnifyTestSupport
import Testing

/// The scripted offline agent in `knify/sandbox:local`, run in a real container exactly as Knify will run the real
/// CLIs: each turn must read as that CLI's stream-json, do its work in /workspace, and remember resumed sessions.
@Suite("The offline agent speaks each CLI's dialect")
struct OfflineAgentTests {
    struct Dialect: Sendable, CustomTestStringConvertible {
        let cli: String
        let fixtures: [String]
        /// The headless command line of a turn, per `../shared/fixtures/agents/README.md`.
        let turn: @Sendable (_ prompt: String, _ resume: String?) -> [String]
        /// The assistant's text in one event, if it is an assistant message.
        let assistantText: @Sendable ([String: Any]) -> String?
        var testDescription: String { cli }
    }

    static let dialects: [Dialect] = [
        Dialect(cli: "cursor-agent", fixtures: ["cursor-agent.success.jsonl", "cursor-agent.rejected-tool.jsonl"],
                turn: { prompt, resume in
                    ["cursor-agent", "-p", "--output-format", "stream-json", "--trust", "--force",
                     "--workspace", "/workspace", "--model", "auto"] + (resume.map { ["--resume", $0] } ?? []) + [prompt]
                }, assistantText: messageText),
        Dialect(cli: "claude", fixtures: ["claude.success.jsonl", "claude.max-turns.jsonl"],
                turn: { prompt, resume in
                    ["claude", "-p", prompt, "--output-format", "stream-json", "--verbose", "--model", "sonnet",
                     "--permission-mode", "bypassPermissions"] + (resume.map { ["--resume", $0] } ?? [])
                }, assistantText: messageText),
        Dialect(cli: "gemini", fixtures: ["gemini.success.jsonl", "gemini.error.jsonl"],
                turn: { prompt, resume in
                    ["gemini", "-p", prompt, "-o", "stream-json", "--approval-mode", "yolo", "--skip-trust",
                     "-m", "gemini-2.5-pro"] + (resume.map { ["-r", $0] } ?? [])
                }, assistantText: { event in
                    event["type"] as? String == "message" && event["role"] as? String == "assistant"
                        ? event["content"] as? String : nil
                }),
    ]

    static func messageText(_ event: [String: Any]) -> String? {
        guard event["type"] as? String == "assistant",
              let message = event["message"] as? [String: Any],
              let content = message["content"] as? [[String: Any]] else { return nil }
        let texts = content.compactMap { $0["type"] as? String == "text" ? $0["text"] as? String : nil }
        return texts.isEmpty ? nil : texts.joined()
    }

    static func signature(_ event: [String: Any]) -> String {
        [event["type"] as? String, event["subtype"] as? String].compactMap { $0 }.joined(separator: "/")
    }

    let client = TestEngine.client

    @Test("a turn parses as the CLI's stream-json, does its work, and a resumed session remembers", arguments: dialects)
    func turnAndResume(dialect: Dialect) async throws {
        let fixtureEvents = try dialect.fixtures.flatMap { try TestFixtures.agentStream($0) }
        let knownSignatures = Set(fixtureEvents.map(Self.signature))
        let fixtureInit = try #require(fixtureEvents.first)
        let fixtureResult = try #require(fixtureEvents.last { $0["type"] as? String == "result" })

        try await TestEngine.withContainer { id in
            let firstPrompt = "Summarise the \"repo\" <script>alert(1)</script> — héllo ✓"
            let first = try await client.exec(in: id, ExecSpec(cmd: dialect.turn(firstPrompt, nil), workingDir: "/workspace"))
            #expect(first.exitCode == 0, "stderr: \(first.stderrText)")
            let events = try TestFixtures.jsonLines(first.stdoutText)

            // Shape: every event is one the CLI emits; init first with the fixture's keys, result last.
            for event in events {
                #expect(knownSignatures.contains(Self.signature(event)), "unexpected event \(Self.signature(event))")
            }
            let initEvent = try #require(events.first)
            #expect(Self.signature(initEvent) == Self.signature(fixtureInit))
            #expect(Set(fixtureInit.keys).isSubset(of: Set(initEvent.keys)))
            let result = try #require(events.last)
            #expect(result["type"] as? String == "result")
            let requiredResultKeys = Set(fixtureResult.keys).subtracting(["result", "error", "usage"])
            #expect(requiredResultKeys.isSubset(of: Set(result.keys)))
            let sessionId = try #require(initEvent["session_id"] as? String)
            #expect(UUID(uuidString: sessionId) != nil)

            // Real work in the workspace.
            let task = try await client.exec(in: id, "cat", "/workspace/AGENT_TASK.md")
            #expect(task.exitCode == 0)
            #expect(task.stdoutText.contains(firstPrompt))

            // The resumed turn quotes the previous prompt in its first assistant message.
            let second = try await client.exec(in: id, ExecSpec(cmd: dialect.turn("Now add tests", sessionId), workingDir: "/workspace"))
            #expect(second.exitCode == 0, "stderr: \(second.stderrText)")
            let resumed = try TestFixtures.jsonLines(second.stdoutText)
            #expect(resumed.first?["session_id"] as? String == sessionId)
            let firstText = try #require(resumed.lazy.compactMap(dialect.assistantText).first)
            #expect(firstText == "Resuming session \(sessionId). Previous prompt: \(firstPrompt)")
        }
    }

    @Test("directives: write files, fail with stderr and no result line", arguments: dialects)
    func directives(dialect: Dialect) async throws {
        try await TestEngine.withContainer { id in
            let prompt = "Make a module\n@@write src/app.py\nprint('hi')\n@@end\n@@run cat src/app.py"
            let ok = try await client.exec(in: id, ExecSpec(cmd: dialect.turn(prompt, nil), workingDir: "/workspace"))
            #expect(ok.exitCode == 0)
            #expect(try await client.exec(in: id, "cat", "/workspace/src/app.py").stdoutText == "print('hi')\n")

            let failing = try await client.exec(in: id, ExecSpec(cmd: dialect.turn("@@fail 3 model overloaded", nil)))
            #expect(failing.exitCode == 3)
            #expect(failing.stderrText.contains("model overloaded"))
            let events = try TestFixtures.jsonLines(failing.stdoutText)
            #expect(!events.contains { $0["type"] as? String == "result" })
        }
    }
}
