import Agents
import Foundation
import KnifyTestSupport
import Testing

/// The three stream-json parsers fed what a broken, hostile or truncated CLI could print: they never trap, every
/// event still encodes to the documented shape, a secret never survives, and how bytes arrive never changes what is
/// parsed.
@Suite("Fuzz: stream-json parsers")
struct StreamParserFuzzTests {
    static let secret = "sk-fuzz-5ecret-0123456789"
    static let samples: [(AgentStreamParser.Dialect, String)] = [
        (.cursor, "cursor-agent.success.jsonl"), (.cursor, "cursor-agent.rejected-tool.jsonl"),
        (.claude, "claude.success.jsonl"), (.claude, "claude.max-turns.jsonl"),
        (.gemini, "gemini.success.jsonl"), (.gemini, "gemini.error.jsonl"),
    ]
    /// Each dialect's own words, so random objects often look like real lines and reach deep into the parser.
    static let vocabulary = ["type", "subtype", "system", "init", "assistant", "user", "result", "tool_call", "started",
                             "completed", "thinking", "delta", "message", "content", "text", "tool_use", "tool_result",
                             "session_id", "model", "call_id", "id", "name", "input", "is_error", "success", "error",
                             "shellToolCall", "writeToolCall", "args", "command", "role", "status", "output", "stats",
                             "timestamp", "timestamp_ms", "usage", "duration_ms", "tool_name", "tool_id", "parameters"]

    /// Everything an event shows a client: its JSON and its raw line.
    static func check(_ events: [AgentEvent], _ fuzz: Fuzz, _ input: String) throws {
        let encoder = JSONEncoder()
        for event in events {
            let text = String(decoding: try encoder.encode(event), as: UTF8.self)
            let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            #expect(object?["type"] as? String == event.type.rawValue)
            #expect(!text.contains(secret) && !event.raw.contains(secret), "secret in \(text); \(fuzz.replay)")
        }
    }

    @Test func mutatedSampleLines() throws {
        var fuzz = Fuzz()
        let lines = try Self.samples.map { sample in (sample.0, try fixtureLines(sample.1).filter { !$0.isEmpty }) }
        for _ in 0..<Fuzz.iterations {
            let (dialect, sampleLines) = fuzz.pick(lines)
            var parser = AgentStreamParser(dialect: dialect, secrets: [Self.secret])
            for line in sampleLines.prefix(fuzz.int(0...sampleLines.count)) {
                var bytes = Array(line.utf8)
                if fuzz.chance(0.5) { bytes = fuzz.mutate(bytes) }
                if fuzz.chance(0.3) {  // a secret spliced in somewhere
                    bytes.insert(contentsOf: Array(Self.secret.utf8), at: fuzz.int(0...bytes.count))
                }
                let text = String(decoding: bytes, as: UTF8.self)
                try Self.check(parser.parse(line: text, receivedAt: fixedNow), fuzz, text)
            }
            #expect(parser.finalText?.contains(Self.secret) != true, "\(fuzz.replay)")
            #expect(parser.errorMessage?.contains(Self.secret) != true, "\(fuzz.replay)")
        }
    }

    @Test func randomObjectsInTheDialectsWords() throws {
        var fuzz = Fuzz()
        for _ in 0..<Fuzz.iterations {
            let dialect = fuzz.pick(AgentStreamParser.Dialect.allCases)
            var parser = AgentStreamParser(dialect: dialect, secrets: [Self.secret])
            for _ in 0..<fuzz.int(1...6) {
                let text = String(decoding: try JSONSerialization.data(withJSONObject: Self.object(&fuzz, depth: 3)), as: UTF8.self)
                try Self.check(parser.parse(line: text, receivedAt: fixedNow), fuzz, text)
            }
        }
    }

    @Test func bytesInAnyChunkingParseAlike() throws {
        var fuzz = Fuzz()
        for _ in 0..<max(1, Fuzz.iterations / 10) {
            let (dialect, name) = fuzz.pick(Self.samples)
            let text = try String(contentsOf: TestFixtures.agentsDirectory.appendingPathComponent(name), encoding: .utf8)
            let bytes = Array(text.utf8)
            var whole = LineSplitter()
            let expected = whole.feed(bytes) + [whole.finish()].compactMap { $0 }
            var split = LineSplitter()
            var lines: [String] = []
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + fuzz.int(1...300))
                lines += split.feed(bytes[offset..<end])
                offset = end
            }
            lines += [split.finish()].compactMap { $0 }
            #expect(lines == expected, "\(name); \(fuzz.replay)")
            var a = AgentStreamParser(dialect: dialect), b = AgentStreamParser(dialect: dialect)
            #expect(lines.flatMap { a.parse(line: $0, receivedAt: fixedNow) } == expected.flatMap { b.parse(line: $0, receivedAt: fixedNow) })
        }
    }

    /// A JSON object built from the dialects' words, with the secret hidden in some strings.
    static func object(_ fuzz: inout Fuzz, depth: Int) -> [String: Any] {
        var object: [String: Any] = [:]
        for _ in 0..<fuzz.int(1...6) {
            let key = fuzz.pick(vocabulary)
            switch fuzz.int(0...5) {
            case 0: object[key] = fuzz.pick(vocabulary)
            case 1: object[key] = fuzz.text() + (fuzz.chance(0.2) ? secret : "")
            case 2 where depth > 0: object[key] = Self.object(&fuzz, depth: depth - 1)
            case 3 where depth > 0: object[key] = (0..<fuzz.int(0...3)).map { _ in Self.object(&fuzz, depth: depth - 1) }
            default: object[key] = fuzz.json(depth: 1)
            }
        }
        return object
    }
}
