import Foundation
import KnifyTestSupport
import Testing

@testable import KnifyServer

/// The SSE framer against a reference reader written from the WHATWG event-stream rules: whatever the payload, one
/// frame is one event with exactly that id, name and data.
@Suite("Fuzz: SSE framer")
struct ServerSentEventsFuzzTests {
    struct Received: Equatable {
        var id: String?
        var event: String?
        var data: String
    }

    /// The spec's reader: lines end at CRLF, CR or LF; a blank line dispatches; `field: value` loses one leading
    /// space; `data` lines are joined with "\n"; lines starting with ":" are comments.
    static func read(_ stream: String) -> [Received] {
        var events: [Received] = []
        var current = Received(data: "")
        var hasData = false
        var lines: [String] = []
        var line = String.UnicodeScalarView()
        var afterCR = false
        for scalar in stream.unicodeScalars {
            if afterCR, scalar == "\n" { afterCR = false; continue }
            afterCR = scalar == "\r"
            if scalar == "\n" || scalar == "\r" {
                lines.append(String(line))
                line = String.UnicodeScalarView()
            } else {
                line.append(scalar)
            }
        }
        for line in lines {
            if line.isEmpty {
                if hasData {
                    events.append(current)
                }
                current = Received(data: "")
                hasData = false
                continue
            }
            if line.hasPrefix(":") { continue }
            let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            var value = parts.count > 1 ? String(parts[1]) : ""
            if value.hasPrefix(" ") { value.removeFirst() }
            switch parts[0] {
            case "data":
                current.data += (hasData ? "\n" : "") + value
                hasData = true
            case "id": current.id = value
            case "event": current.event = value
            default: break
            }
        }
        return events
    }

    @Test func anyJSONPayloadArrivesAsItWasSent() throws {
        var fuzz = Fuzz()
        for _ in 0..<Fuzz.iterations {
            let value: [String: Any] = ["type": fuzz.text(0...12), "payload": fuzz.json()]
            let json = String(decoding: try JSONSerialization.data(withJSONObject: value), as: UTF8.self)
            let id = String(fuzz.int(0...Int(Int32.max)))
            let events = Self.read(ServerSentEvents.frame(id: id, data: json))
            try #require(events.count == 1, "\(json.debugDescription) → \(events); \(fuzz.replay)")
            #expect(events[0].id == id)
            #expect(events[0].data == json, "\(fuzz.replay)")
        }
    }

    @Test func anyTextArrivesAsOneEventWithItsLineBreaksNormalised() {
        var fuzz = Fuzz()
        for _ in 0..<Fuzz.iterations {
            let data = fuzz.text(0...60)
            let event = fuzz.text(0...10)
            let events = Self.read(ServerSentEvents.frame(id: "7", event: event, data: data))
            // CRLF and CR are line ends in an event stream: the reader gives them back as LF.
            let expected = data.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            #expect(events == [Received(id: "7", event: Self.oneLine(event), data: expected)],
                    "\(data.debugDescription) / \(event.debugDescription); \(fuzz.replay)")
        }
    }

    @Test func framesInARowStayApart() {
        var fuzz = Fuzz()
        for _ in 0..<max(1, Fuzz.iterations / 10) {
            let payloads = (0..<fuzz.int(1...20)).map { _ in fuzz.text(0...30) }
            let stream = payloads.enumerated().map { ServerSentEvents.frame(id: String($0.offset), data: $0.element) }.joined()
                + ": keep-alive\n\n"
            let events = Self.read(stream)
            #expect(events.map(\.id) == payloads.indices.map { String($0) }, "\(fuzz.replay)")
        }
    }

    /// What the framer makes of a line break in a single-line field.
    static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0 == "\n" || $0 == "\r" ? " " : $0 }))
    }
}
