/// Splits a byte stream into newline-terminated lines; a line may straddle any number of chunks.
struct JSONLines: Sendable {
    private var pending: [UInt8] = []

    mutating func feed(_ bytes: [UInt8]) -> [[UInt8]] {
        pending.append(contentsOf: bytes)
        var lines: [[UInt8]] = []
        var start = 0
        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending[start..<newline]
            if line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) { lines.append(Array(line)) }
            start = newline + 1
        }
        pending.removeFirst(start)
        return lines
    }
}
