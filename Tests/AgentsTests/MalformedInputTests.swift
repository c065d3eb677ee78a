import Agents
import Foundation
import Testing

/// Whatever a CLI prints, the parser keeps going and keeps the line.
@Suite("Malformed and unknown input")
struct MalformedInputTests {
    @Test("invalid JSON, arrays and scalars become system/unparsed with the raw line", arguments: [
        "not json at all", "{\"type\":\"assistant\"", "[1,2,3]", "[{\"type\":\"result\"}]", "42", "\"text\"",
        "null", "{\"type\":\"result\",\"is_error\":tru}", "\u{FFFD}\u{FFFD}{",
    ])
    func unparsed(line: String) {
        for dialect in AgentStreamParser.Dialect.allCases {
            var parser = AgentStreamParser(dialect: dialect)
            let events = parser.parse(line: line, receivedAt: fixedNow)
            #expect(events.count == 1)
            #expect(events.first?.type == .system)
            #expect(events.first?.subtype == "unparsed")
            #expect(events.first?.message == nil)
            #expect(events.first?.raw == line)
            #expect(events.first?.timestamp == fixedNow)
            #expect(parser.unparsedLineCount == 1)
        }
    }

    @Test("empty and blank lines produce nothing")
    func blank() {
        for dialect in AgentStreamParser.Dialect.allCases {
            var parser = AgentStreamParser(dialect: dialect)
            #expect(parser.parse(line: "", receivedAt: fixedNow).isEmpty)
            #expect(parser.parse(line: "   \t\r", receivedAt: fixedNow).isEmpty)
        }
    }

    @Test("an unknown type becomes system with that type as subtype, message nil, raw kept")
    func unknownType() {
        let line = #"{"type":"telemetry","session_id":"s-1","payload":{"x":1}}"#
        for dialect in AgentStreamParser.Dialect.allCases {
            var parser = AgentStreamParser(dialect: dialect)
            let events = parser.parse(line: line, receivedAt: fixedNow)
            #expect(events.count == 1)
            #expect(events.first?.type == .system)
            #expect(events.first?.subtype == "telemetry")
            #expect(events.first?.message == nil)
            #expect(events.first?.raw == line)
            #expect(parser.unparsedLineCount == 0)
        }
        var parser = AgentStreamParser(dialect: .claude)
        #expect(parser.parse(line: #"{"no_type":true}"#, receivedAt: fixedNow).first?.subtype == "unknown")
        #expect(parser.parse(line: #"{"type":7}"#, receivedAt: fixedNow).first?.subtype == "unknown")
    }

    @Test("unknown extra fields are ignored")
    func extraFields() {
        var cursor = AgentStreamParser(dialect: .cursor)
        let events = cursor.parse(line: #"""
            {"type":"assistant","brand_new":{"deep":[1,2]},"message":{"role":"assistant","extra":1,"content":[{"type":"text","text":"hi","lang":"en"},{"type":"image","url":"x"}]},"session_id":"s"}
            """#, receivedAt: fixedNow)
        #expect(events.map(\.type) == [.agentMessage])
        #expect(events.first?.message == "hi")

        var claude = AgentStreamParser(dialect: .claude)
        let parts = claude.parse(line: #"""
            {"type":"assistant","message":{"content":[{"type":"text","text":"a"},{"type":"citation_block","x":1},{"type":"thinking","thinking":"hmm","signature":"sig"}]},"new":1}
            """#, receivedAt: fixedNow)
        #expect(parts.map(\.type) == [.agentMessage, .system, .thinking])
        #expect(parts[1].subtype == "assistant/citation_block")
        #expect(parts[2].message == "hmm")

        var gemini = AgentStreamParser(dialect: .gemini)
        let toolUse = gemini.parse(line: #"""
            {"type":"tool_use","timestamp":"2026-11-17T10:00:01.000Z","tool_name":"replace","tool_id":"e-1","parameters":{"file_path":"/w/a","old_string":"a","new_string":"b"},"x":{}}
            """#, receivedAt: fixedNow)
        #expect(toolUse.first?.tool == "edit_file")
        #expect(toolUse.first?.rawTool == "replace")
        #expect(toolUse.first?.parameters == ["path": "/w/a", "old_string": "a", "new_string": "b"])
    }

    @Test("known types with missing fields do not crash")
    func missingFields() {
        let lines = [
            #"{"type":"tool_call"}"#, #"{"type":"tool_call","subtype":"started","tool_call":{}}"#,
            #"{"type":"tool_call","subtype":"completed","tool_call":{"readToolCall":{}}}"#,
            #"{"type":"assistant"}"#, #"{"type":"assistant","message":{"content":"plain"}}"#, #"{"type":"user"}"#,
            #"{"type":"result"}"#, #"{"type":"system"}"#, #"{"type":"thinking"}"#, #"{"type":"init"}"#,
            #"{"type":"message"}"#, #"{"type":"tool_use"}"#, #"{"type":"tool_result"}"#, #"{"type":"error"}"#,
            #"{"type":"tool_call","subtype":"started","call_id":"c","tool_call":{"function":{"name":"f","arguments":"not json"}}}"#,
        ]
        for dialect in AgentStreamParser.Dialect.allCases {
            var parser = AgentStreamParser(dialect: dialect)
            for line in lines {
                let events = parser.parse(line: line, receivedAt: fixedNow)
                for event in events { #expect(event.raw == line) }
            }
        }
        var cursor = AgentStreamParser(dialect: .cursor)
        let function = cursor.parse(line: lines.last ?? "", receivedAt: fixedNow)
        #expect(function.first?.tool == "f")
        #expect(function.first?.parameters == ["arguments": "not json"])
    }

    @Test("a truncated line (cut mid-object) is kept raw")
    func truncated() throws {
        let full = try #require(fixtureLines("claude.success.jsonl").first)
        for cut in stride(from: 1, to: full.utf8.count - 1, by: 7) {
            let line = String(decoding: Array(full.utf8.prefix(cut)), as: UTF8.self)
            var parser = AgentStreamParser(dialect: .claude)
            let events = parser.parse(line: line, receivedAt: fixedNow)
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            #expect(events.map(\.subtype) == ["unparsed"])
            #expect(events.first?.raw == line)
        }
    }

    @Test("a 5 MiB line through the splitter is capped, marked and kept raw")
    func hugeLine() throws {
        var splitter = LineSplitter()
        var parser = AgentStreamParser(dialect: .gemini)
        let prefix = Array(#"{"type":"message","role":"assistant","content":""#.utf8)
        let filler = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
        var lines = splitter.feed(prefix)
        for _ in 0..<80 { lines += splitter.feed(filler) }  // 5 MiB
        lines += splitter.feed(Array(#"","delta":true}"#.utf8) + [10])
        lines += splitter.feed(Array(#"{"type":"error","message":"after"}"#.utf8) + [10])
        #expect(lines.count == 2)
        let cut = try #require(lines.first)
        #expect(cut.utf8.count < LineSplitter.defaultMaxLineBytes + 64)
        #expect(LineSplitter.isTruncated(cut))
        #expect(splitter.truncatedLineCount == 1)
        let events = lines.flatMap { parser.parse(line: $0, receivedAt: fixedNow) }
        #expect(events.map(\.type) == [.system, .error])
        #expect(events[0].subtype == "unparsed")
        #expect(events[0].raw == cut)
        #expect(events[0].message?.contains("truncated") == true)
        #expect(events[1].message == "after")
    }

    @Test("deeply nested JSON is refused, not a crash")
    func deepNesting() {
        var parser = AgentStreamParser(dialect: .cursor)
        let depth = 100_000
        let line = "{\"type\":\"x\",\"a\":" + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}"
        let events = parser.parse(line: line, receivedAt: fixedNow)
        #expect(events.count == 1)
        #expect(events.first?.raw == line)
    }
}
