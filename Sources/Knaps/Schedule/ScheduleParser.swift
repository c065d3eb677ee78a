import Foundation

/// Turns a knap's English schedule description into a `ScheduleInfo`.
///
/// The grammar is small and strict: every word must be understood, and a description that is ambiguous or impossible
/// is rejected rather than guessed at ("every second Tuesday", "February 30th every year", "every Monday at 9am
/// unless it rains"). Case, extra spaces, commas and a trailing period do not matter.
///
/// Defaults, used only where a description leaves something out:
/// - no time of day ("first Monday of every month", "every day") means 09:00 — a working-hours start is the least
///   surprising time for an agent to run; hourly schedules without a minute run on the hour;
/// - a period named without days starts on its first day: "weekly" is Mondays, "monthly" the 1st, "yearly"
///   1 January.
///
/// A bare number after "at" is a 24-hour hour ("at 9" is 09:00, "at 21" 21:00). Yearly schedules may fall on
/// February 29 (they then run in leap years only); dates no year has, such as April 31, are rejected. Interval
/// limits: hours must divide the day (2, 3, 4, 6, 8, 12), up to 366 days, 53 weeks, 24 months or 10 years.
public enum ScheduleParser {
    /// Parses a description or throws; never guesses.
    public static func parse(_ description: String) throws(ScheduleParseError) -> ScheduleInfo {
        var grammar = Grammar(input: description, tokens: tokenize(description))
        return try grammar.run()
    }

    /// Human-readable examples of accepted forms, used in 400 error details. Each of them parses (a test checks).
    public static let acceptedForms: [String] = [
        "every Monday at 9am",
        "daily at 2:30 PM",
        "every Thursday at 11 AM",
        "15th of every month at 10:00",
        "first Monday of every month",
        "every March 15th at 2 PM",
        "weekdays at 9am",
        "every Mon, Wed and Fri at 10am",
        "every 2 weeks on Tuesday at 17:00",
        "last day of every month at 18:00",
        "every hour at :15",
    ]
}

/// A description the parser could not turn into a schedule; `description` is written for the API caller.
public struct ScheduleParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let input: String
    public let reason: String

    public init(input: String, reason: String) {
        self.input = input
        self.reason = reason
    }

    public var description: String {
        let trimmed = input.trimmingCharacters(in: .whitespacesAndNewlines)
        // Long input is cut so an error detail stays readable.
        let shown = trimmed.count > 200 ? String(trimmed.prefix(200)) + "…" : trimmed
        return "could not understand the schedule \"\(shown)\": \(reason). Accepted forms: "
            + ScheduleParser.acceptedForms.joined(separator: "; ")
    }
}
