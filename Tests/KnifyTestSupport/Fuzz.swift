import Foundation

/// Property-based fuzzing without a dependency: a seeded generator, so a failing case is reproduced from the seed
/// its test prints. `KNIFY_FUZZ_ITERATIONS` sets how many cases each property tries (`make fuzz` raises it);
/// `KNIFY_FUZZ_SEED` repeats a run.
public struct Fuzz: RandomNumberGenerator, Sendable {
    public let seed: UInt64
    private var state: UInt64

    public init(seed: UInt64? = nil) {
        let chosen = seed ?? ProcessInfo.processInfo.environment["KNIFY_FUZZ_SEED"].flatMap(UInt64.init)
            ?? UInt64.random(in: 1...UInt64.max)
        self.seed = chosen
        state = chosen
    }

    /// Cases per property: 300 in `make test`, more under `make fuzz`.
    public static var iterations: Int {
        ProcessInfo.processInfo.environment["KNIFY_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 300
    }

    /// SplitMix64: small, fast, and good enough to spread cases.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    public mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }
    public mutating func pick<T>(_ items: [T]) -> T { items[int(0...items.count - 1)] }

    public mutating func bytes(_ count: ClosedRange<Int>) -> [UInt8] {
        (0..<int(count)).map { _ in UInt8.random(in: 0...255, using: &self) }
    }

    /// Text that leans on what breaks parsers: quotes, backslashes, line breaks, control characters, NUL,
    /// U+2028, surrogate-plane emoji, combining marks, and plain ASCII.
    public mutating func text(_ length: ClosedRange<Int> = 0...40) -> String {
        let awkward: [String] = ["\"", "\\", "\n", "\r", "\r\n", "\t", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}", "\u{2028}",
                                 "\u{FEFF}", "é", "e\u{301}", "😀", "中", "{", "}", "[", "]", ":", ",", " ", "data:", "id:"]
        var result = ""
        for _ in 0..<int(length) {
            if chance(0.3) {
                result += pick(awkward)
            } else {
                result.unicodeScalars.append(UnicodeScalar(UInt8(int(0x20...0x7E))))
            }
        }
        return result
    }

    /// A byte sequence changed a little: bytes flipped, dropped, duplicated or inserted, or cut short.
    public mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0..<int(1...4) {
            switch int(0...4) {
            case 0 where !bytes.isEmpty: bytes[int(0...bytes.count - 1)] = UInt8.random(in: 0...255, using: &self)
            case 1 where !bytes.isEmpty: bytes.remove(at: int(0...bytes.count - 1))
            case 2: bytes.insert(UInt8.random(in: 0...255, using: &self), at: int(0...bytes.count))
            case 3 where !bytes.isEmpty:
                let start = int(0...bytes.count - 1)
                let end = min(bytes.count, start + int(1...16))
                bytes.insert(contentsOf: bytes[start..<end], at: int(0...bytes.count))
            default: bytes = Array(bytes.prefix(int(0...bytes.count)))
            }
        }
        return bytes
    }

    /// A random JSON value (objects, arrays, strings from `text`, numbers, booleans, null), `depth` levels deep.
    public mutating func json(depth: Int = 3) -> Any {
        switch int(0...(depth > 0 ? 6 : 3)) {
        case 0: return text()
        case 1: return chance(0.5) ? int(-1_000_000...1_000_000) : Double(int(-1000...1000)) / 8
        case 2: return chance(0.5)
        case 3: return NSNull()
        case 4, 5: return Dictionary((0..<int(0...4)).map { _ in (text(0...8), json(depth: depth - 1)) }, uniquingKeysWith: { a, _ in a })
        default: return (0..<int(0...4)).map { _ in json(depth: depth - 1) }
        }
    }

    /// Where a failure came from: put it in every expectation's message.
    public var replay: String { "replay with KNIFY_FUZZ_SEED=\(seed)" }
}
