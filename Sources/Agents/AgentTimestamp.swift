import Foundation

/// ISO-8601 text with milliseconds, UTC: what every `timestamp` of the normalized events looks like.
enum AgentTimestamp {
    private static let whole = Date.ISO8601FormatStyle()
    private static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// `2025-11-17T10:00:05.120Z`. Rounds to the millisecond itself: the format style truncates, which turns a
    /// `timestamp_ms` of …120 into .119 after the trip through `Double`.
    static func format(_ date: Date) -> String {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
        let seconds = (milliseconds / 1000).rounded(.down)
        let fraction = Int(milliseconds - seconds * 1000)
        let text = whole.format(Date(timeIntervalSince1970: seconds))
        guard text.hasSuffix("Z") else { return fractional.format(date) }
        let digits = String(fraction + 1000).dropFirst()
        return "\(text.dropLast()).\(digits)Z"
    }

    /// Accepts ISO-8601 with or without fractional seconds.
    static func parse(_ text: String) -> Date? {
        if let date = try? fractional.parse(text) { return date }
        return try? whole.parse(text)
    }

    /// A line's own time: gemini's `timestamp` (ISO text), cursor's `timestamp_ms`; a numeric `timestamp` is read as
    /// milliseconds when it is that large, else as seconds.
    static func from(_ line: JSONValue) -> Date? {
        if let milliseconds = line["timestamp_ms"]?.doubleValue, milliseconds.isFinite {
            return Date(timeIntervalSince1970: milliseconds / 1000)
        }
        switch line["timestamp"] {
        case .string(let text)?:
            return parse(text)
        case .number(let value)? where value.isFinite:
            return Date(timeIntervalSince1970: value > 100_000_000_000 ? value / 1000 : value)
        default:
            return nil
        }
    }
}
