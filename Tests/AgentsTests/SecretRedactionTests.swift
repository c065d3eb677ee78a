import Agents
import Foundation
import Testing

@Suite("Secrets never reach events")
struct SecretRedactionTests {
    static let secret = "sk-live-0123456789abcdef"

    /// Every string an event carries, encoded and raw.
    static func everything(_ events: [AgentEvent]) throws -> String {
        try events.map { try encodedText($0) + "\n" + $0.raw }.joined(separator: "\n")
    }

    @Test("cursor: in a tool parameter, an assistant message and the raw line")
    func cursor() throws {
        let lines = [
            #"{"type":"system","subtype":"init","session_id":"s-1","model":"Auto"}"#,
            #"{"type":"assistant","message":{"content":[{"type":"text","text":"your key is \#(Self.secret)!"}]},"session_id":"s-1"}"#,
            #"{"type":"tool_call","subtype":"started","call_id":"c1","tool_call":{"shellToolCall":{"args":{"command":"curl -H 'Authorization: \#(Self.secret)' x","workingDirectory":"/workspace"}}}}"#,
            #"{"type":"tool_call","subtype":"completed","call_id":"c1","tool_call":{"shellToolCall":{"args":{"command":"echo"},"result":{"failure":{"exitCode":1,"stderr":"bad key \#(Self.secret)","stdout":""}}}}}"#,
            #"{"type":"tool_call","subtype":"started","call_id":"c2","tool_call":{"function":{"name":"mcp","arguments":"{\"\#(Self.secret)\":\"v\"}"}}}"#,
            #"{"type":"result","subtype":"success","is_error":false,"result":"done \#(Self.secret)","session_id":"s-1"}"#,
        ]
        let (events, parser) = parseAll(lines, dialect: .cursor, secrets: [Self.secret, ""])
        let all = try Self.everything(events)
        #expect(!all.contains(Self.secret))
        #expect(events[1].message == "your key is [REDACTED]!")
        #expect(events[1].raw.contains("[REDACTED]"))
        #expect(events[2].parameters?["command"] == "curl -H 'Authorization: [REDACTED]' x")
        #expect(events[3].message == "exited with code 1: bad key [REDACTED]")
        #expect(events[4].parameters == ["[REDACTED]": "v"])
        #expect(parser.finalText == "done [REDACTED]")
        #expect(parser.finalText?.contains(Self.secret) == false)
    }

    @Test("claude and gemini: tool input, messages, outputs, errors")
    func claudeAndGemini() throws {
        let claude = [
            #"{"type":"assistant","message":{"content":[{"type":"text","text":"\#(Self.secret)"},{"type":"tool_use","id":"t","name":"Write","input":{"file_path":"/w/.env","content":"KEY=\#(Self.secret)\n"}}]}}"#,
            #"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"wrote \#(Self.secret)"}],"is_error":true}]}}"#,
        ]
        let (claudeEvents, _) = parseAll(claude, dialect: .claude, secrets: [Self.secret])
        #expect(try !Self.everything(claudeEvents).contains(Self.secret))
        #expect(claudeEvents[1].parameters?["content"] == "KEY=[REDACTED]\n")
        #expect(claudeEvents[2].message == "wrote [REDACTED]")

        let gemini = [
            #"{"type":"message","role":"assistant","content":"sk-live-0123","delta":true}"#,
            #"{"type":"message","role":"assistant","content":"456789abcdef","delta":true}"#,
            #"{"type":"error","severity":"error","message":"key \#(Self.secret) rejected"}"#,
            #"{"type":"result","status":"error","error":{"type":"Auth","message":"bad \#(Self.secret)"}}"#,
        ]
        let (geminiEvents, parser) = parseAll(gemini, dialect: .gemini, secrets: [Self.secret])
        #expect(try !Self.everything(geminiEvents).contains(Self.secret))
        // A secret split over two deltas cannot be seen in either, but the joined text is redacted.
        #expect(parser.finalText == "[REDACTED]")
        #expect(parser.errorMessage == "bad [REDACTED]")
        let reason = AgentDriver.gemini.failureReason(exitCode: 41, stderr: "", parser: parser)
        #expect(reason == "bad [REDACTED]")
    }

    @Test("escaped spellings in the raw line are redacted too")
    func escapedInRaw() throws {
        let secret = #"p@ss"w\rd/é"#
        // The CLI escapes `"`, `\` and `/`, and here writes é as \u00e9: the raw text never shows it verbatim.
        let line = #"{"type":"error","message":"p@ss\"w\\rd\/\u00e9 and p@ss\"w\\rd/é"}"#
        var parser = AgentStreamParser(dialect: .gemini, secrets: [secret])
        let events = parser.parse(line: line, receivedAt: fixedNow)
        #expect(events.first?.message == "[REDACTED] and [REDACTED]")
        let raw = try #require(events.first?.raw)
        #expect(JSONValue.parse(raw)?["message"] == "[REDACTED] and [REDACTED]")
        #expect(!raw.contains("p@ss"))
    }

    @Test("stderr in failure reasons is redacted")
    func stderr() {
        let parser = AgentDriver.cursor.makeParser(secrets: [Self.secret])
        let reason = AgentDriver.cursor.failureReason(
            exitCode: 1, stderr: "Invalid API key: \(Self.secret)\n", parser: parser)
        #expect(reason == "Invalid API key: [REDACTED]")
    }

    @Test("unparsed lines are redacted")
    func unparsed() {
        var parser = AgentStreamParser(dialect: .claude, secrets: [Self.secret])
        let events = parser.parse(line: "Error: token \(Self.secret) expired", receivedAt: fixedNow)
        #expect(events.first?.raw == "Error: token [REDACTED] expired")
    }
}
