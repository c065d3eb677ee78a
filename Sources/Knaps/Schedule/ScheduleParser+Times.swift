import Foundation

extension ScheduleParser {
    enum TimeOfDay: Equatable, Sendable {
        case clock(hour: Int, minute: Int)
        /// Only a minute ("at :15", "15 minutes past the hour"): meaningful for hourly schedules alone.
        case minutePastHour(Int)
    }
}

extension ScheduleParser.Grammar {
    /// "at 9am", "9:30 pm", "14:30", "at 9" (24-hour), "noon", "at :15", "15 minutes past the hour", "on the hour".
    mutating func parseTime() throws(ScheduleParseError) -> Bool {
        let start = position
        if accept("on"), accept("the"), accept("hour") {
            try setTime(.minutePastHour(0))
            return true
        }
        position = start
        let saidAt = accept("at")
        if let time = try parseTimeOfDay(saidAt: saidAt) {
            try setTime(time)
            return true
        }
        if saidAt { throw failure("no time of day understood in \"\(text(from: start, count: 3))\"") }
        position = start
        return false
    }

    mutating func setTime(_ time: ScheduleParser.TimeOfDay) throws(ScheduleParseError) {
        guard self.time == nil else { throw failure("it gives more than one time of day") }
        self.time = time
    }

    /// A time at the cursor, or nil without moving when the tokens are not one (a bare number is a time only after
    /// "at": "every Monday 9" is not understood).
    private mutating func parseTimeOfDay(saidAt: Bool) throws(ScheduleParseError) -> ScheduleParser.TimeOfDay? {
        guard let token = peek() else { return nil }
        let start = position
        switch token.kind {
        case .minute:
            position += 1
            guard token.text.count == 3, let minute = Int(token.text.dropFirst()), (0...59).contains(minute) else {
                throw failure("\"\(token.text)\" is not a minute past the hour (:00 to :59)")
            }
            return .minutePastHour(minute)
        case .clock:
            position += 1
            let parts = token.text.split(whereSeparator: { $0 == ":" || $0 == "." })
            guard parts.count == 2, parts[0].count <= 2, parts[1].count == 2,
                  let hour = Int(parts[0]), let minute = Int(parts[1]), (0...59).contains(minute)
            else { throw invalidTime(from: start, saidAt: saidAt) }
            return try clock(hour: hour, minute: minute, from: start, saidAt: saidAt)
        case .number:
            let value = Int(token.text)
            switch word(1) {
            case "am", "pm", "o'clock", "oclock":
                position += 1
                guard let value else { throw invalidTime(from: start, saidAt: saidAt) }
                _ = accept("o'clock") || accept("oclock")
                return try clock(hour: value, minute: 0, from: start, saidAt: saidAt)
            case "minute", "minutes", "min", "mins", "past":
                position += 2
                if word(-1) != "past" && !accept("past") {
                    throw failure("\"\(text(from: start, count: 2))\" needs \"past\", as in \"15 minutes past the "
                        + "hour\"")
                }
                if word() == "the" && word(1) == "hour" { position += 2 }
                guard let value, (0...59).contains(value) else {
                    throw failure("\"\(text(from: start))\" is not a minute past the hour (0 to 59)")
                }
                return .minutePastHour(value)
            case "noon" where value == 12:
                position += 2
                return .clock(hour: 12, minute: 0)
            case "midnight" where value == 12:
                position += 2
                return .clock(hour: 0, minute: 0)
            default:
                // After "at", a bare number is an hour; elsewhere it may be a day ("1 January").
                let isDay = word(1).map {
                    ScheduleParser.ordinalSuffixes.contains($0) || ScheduleParser.month($0) != nil
                } == true
                guard saidAt, !isDay else { return nil }
                position += 1
                guard let value else { throw invalidTime(from: start, saidAt: saidAt) }
                return try clock(hour: value, minute: 0, from: start, saidAt: saidAt)
            }
        case .word:
            switch token.text {
            case "noon", "midday":
                position += 1
                return .clock(hour: 12, minute: 0)
            case "midnight":
                position += 1
                return .clock(hour: 0, minute: 0)
            default:
                return nil
            }
        case .symbol:
            return nil
        }
    }

    /// An hour and minute, with the am/pm that may follow: 12-hour with it (1–12), 24-hour without (0–23).
    private mutating func clock(hour: Int, minute: Int, from start: Int, saidAt: Bool)
        throws(ScheduleParseError) -> ScheduleParser.TimeOfDay {
        if accept("am") || accept("pm") {
            guard (1...12).contains(hour) else {
                throw failure("\"\(text(from: start, count: position - start))\" is not a time of day: with am or pm "
                    + "the hour runs from 1 to 12")
            }
            let afternoon = word(-1) == "pm"
            return .clock(hour: hour % 12 + (afternoon ? 12 : 0), minute: minute)
        }
        guard (0...23).contains(hour) else { throw invalidTime(from: start, saidAt: saidAt) }
        return .clock(hour: hour, minute: minute)
    }

    private func invalidTime(from start: Int, saidAt: Bool) -> ScheduleParseError {
        let from = saidAt ? start - 1 : start
        return failure("no time of day understood in \"\(text(from: from, count: position - from))\" (hours run "
            + "from 0 to 23, minutes from 00 to 59)")
    }
}
