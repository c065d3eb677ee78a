import Foundation

/// Splits an agent's stdout, arriving in arbitrary byte chunks, into lines.
///
/// A line may be cut anywhere, even inside a multi-byte UTF-8 character: bytes are kept until the newline arrives,
/// then decoded (invalid bytes become U+FFFD). A line longer than `maxLineBytes` keeps its first `maxLineBytes`
/// bytes, cut at a character boundary, followed by a truncation mark; the rest is counted and dropped, so a flooding
/// agent cannot grow memory without bound. A trailing `\r` is dropped (CLIs behind a pty end lines with `\r\n`).
public struct LineSplitter: Sendable {
    public static let defaultMaxLineBytes = 1 << 20

    /// Starts the mark appended to a cut line: `…[truncated: N more bytes]`.
    public static let truncationMarkPrefix = "…[truncated: "

    public let maxLineBytes: Int
    private var buffer: [UInt8] = []
    private var droppedBytes = 0
    /// How many lines were cut so far.
    public private(set) var truncatedLineCount = 0

    public init(maxLineBytes: Int = LineSplitter.defaultMaxLineBytes) {
        self.maxLineBytes = max(1, maxLineBytes)
    }

    /// Feeds one chunk; returns the lines it completed, without their newlines.
    public mutating func feed<Bytes: Collection>(_ chunk: Bytes) -> [String] where Bytes.Element == UInt8 {
        var lines: [String] = []
        var rest = chunk[...]
        while let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
            append(rest[rest.startIndex..<newline])
            lines.append(takeLine())
            rest = rest[rest.index(after: newline)...]
        }
        append(rest)
        return lines
    }

    /// The trailing line that had no newline, if any; the splitter is empty afterwards.
    public mutating func finish() -> String? {
        guard !buffer.isEmpty || droppedBytes > 0 else { return nil }
        return takeLine()
    }

    /// True when `line` was cut by a splitter.
    public static func isTruncated(_ line: String) -> Bool {
        line.hasSuffix(" more bytes]") && line.contains(truncationMarkPrefix)
    }

    private mutating func append<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let room = maxLineBytes - buffer.count
        if bytes.count <= room {
            buffer.append(contentsOf: bytes)
        } else {
            buffer.append(contentsOf: bytes.prefix(max(0, room)))
            droppedBytes += bytes.count - max(0, room)
        }
    }

    private mutating func takeLine() -> String {
        defer {
            buffer.removeAll(keepingCapacity: buffer.count <= 64 * 1024)
            droppedBytes = 0
        }
        guard droppedBytes > 0 else {
            if buffer.last == UInt8(ascii: "\r") { buffer.removeLast() }
            return String(decoding: buffer, as: UTF8.self)
        }
        truncatedLineCount += 1
        // Back off to a character boundary so the cut does not leave a broken character behind.
        var end = buffer.count
        var stepped = 0
        while end > 0, stepped < 3, buffer[end - 1] & 0xC0 == 0x80 {
            end -= 1
            stepped += 1
        }
        var dropped = droppedBytes
        if end > 0, buffer[end - 1] >= 0xC0 {
            let lead = buffer[end - 1]
            let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
            if buffer.count - (end - 1) < length {
                end -= 1
            } else {
                end = buffer.count
            }
        } else {
            end = buffer.count
        }
        dropped += buffer.count - end
        return String(decoding: buffer[..<end], as: UTF8.self) + "\(Self.truncationMarkPrefix)\(dropped) more bytes]"
    }
}
