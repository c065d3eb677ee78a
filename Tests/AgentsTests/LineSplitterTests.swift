import Agents
import Foundation
import Testing

@Suite("LineSplitter")
struct LineSplitterTests {
    static let lines = [
        #"{"type":"message","content":"héllo wörld ✓ — 日本語 🚀🧪"}"#,
        "",
        "plain ascii",
        "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} family, é e\u{301}",
        #"{"type":"result"}"#,
    ]
    static let text = lines.joined(separator: "\n") + "\n"

    /// Feeds `bytes` cut at `cuts` and collects every line, `finish()` included.
    static func split(_ bytes: [UInt8], at cuts: [Int], maxLineBytes: Int = LineSplitter.defaultMaxLineBytes)
        -> [String]
    {
        var splitter = LineSplitter(maxLineBytes: maxLineBytes)
        var out: [String] = []
        var start = 0
        for cut in cuts + [bytes.count] {
            out += splitter.feed(Array(bytes[start..<cut]))
            start = cut
        }
        if let tail = splitter.finish() { out.append(tail) }
        return out
    }

    @Test("one cut at every byte boundary reassembles exactly, multi-byte characters included")
    func everyBoundary() {
        let bytes = Array(Self.text.utf8)
        for cut in 0...bytes.count {
            #expect(Self.split(bytes, at: [cut]) == Self.lines, "cut at \(cut)")
        }
    }

    @Test("one byte at a time reassembles exactly")
    func byteByByte() {
        let bytes = Array(Self.text.utf8)
        #expect(Self.split(bytes, at: Array(1..<bytes.count)) == Self.lines)
    }

    @Test("two cuts around every multi-byte character")
    func pairsOfCuts() {
        let bytes = Array(Self.text.utf8)
        for first in 0..<bytes.count where bytes[first] >= 0x80 {
            for second in first...min(bytes.count, first + 4) {
                #expect(Self.split(bytes, at: [first, second]) == Self.lines)
            }
        }
    }

    @Test("finish returns the trailing partial line, once")
    func trailing() {
        var splitter = LineSplitter()
        #expect(splitter.feed(Array("a\nb".utf8)) == ["a"])
        #expect(splitter.feed(Array("c".utf8)) == [])
        #expect(splitter.finish() == "bc")
        #expect(splitter.finish() == nil)
        #expect(splitter.feed(Array("d\n".utf8)) == ["d"])
        #expect(splitter.finish() == nil)
    }

    @Test("CRLF endings lose the CR; Data chunks work too")
    func crlf() {
        var splitter = LineSplitter()
        #expect(splitter.feed(Data("a\r\nb\r".utf8)) == ["a"])
        #expect(splitter.feed(Data("\n".utf8)) == ["b"])
    }

    @Test("invalid UTF-8 becomes U+FFFD")
    func invalidBytes() {
        var splitter = LineSplitter()
        #expect(splitter.feed([0x61, 0xFF, 0xC3, 0x62, 0x0A]) == ["a\u{FFFD}\u{FFFD}b"])
    }

    @Test("a long line is cut at a character boundary and marked; the next line is intact")
    func cap() {
        let long = String(repeating: "é", count: 10)  // 20 bytes
        let lines = Self.split(Array((long + "\nnext\n").utf8), at: [3, 7], maxLineBytes: 9)
        #expect(lines.count == 2)
        #expect(lines[0] == "éééé" + "…[truncated: 12 more bytes]")
        #expect(LineSplitter.isTruncated(lines[0]))
        #expect(lines[1] == "next")
        #expect(!LineSplitter.isTruncated(lines[1]))

        // Cut without a newline: finish() still marks it.
        var splitter = LineSplitter(maxLineBytes: 4)
        #expect(splitter.feed(Array("abcdefgh".utf8)).isEmpty)
        #expect(splitter.finish() == "abcd…[truncated: 4 more bytes]")
        #expect(splitter.truncatedLineCount == 1)
    }

    @Test("a line of exactly the limit is not cut")
    func exactLimit() {
        #expect(Self.split(Array("abcd\n".utf8), at: [2], maxLineBytes: 4) == ["abcd"])
    }
}
