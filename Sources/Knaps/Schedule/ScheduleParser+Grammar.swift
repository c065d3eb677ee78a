import Foundation

extension ScheduleParser {
    /// A recursive-descent reading of the tokens into facts (how often, which days, what time), which `build` then
    /// checks for consistency. Clauses may come in any order ("at 9am every Monday"), but each fact once, and every
    /// token must belong to a clause.
    struct Grammar {
        let input: String
        let tokens: [Token]
        var position = 0

        var unit: (unit: Unit, interval: Int)?
        /// Said by "every <day>", a plural weekday or "of every March": the days recur without a named period.
        var recurring = false
        /// "of the month": the days are days of a month, whose recurrence the description implies.
        var monthContext = false
        var haveDays = false
        var weekdays: [Int] = []
        var weekOrdinals: [Int] = []
        var monthDays: [Int] = []
        var months: [Int] = []
        var time: TimeOfDay?

        init(input: String, tokens: [Token]) {
            self.input = input
            self.tokens = tokens
        }

        mutating func run() throws(ScheduleParseError) -> ScheduleInfo {
            guard !tokens.isEmpty else { throw failure("the description is empty") }
            while position < tokens.count {
                if try parseTime() { continue }
                if try parseRecurrence() { continue }
                if try parseDayClause() { continue }
                if peek()?.kind == .number {
                    throw failure("\"\(text(from: position))\" is not understood: a bare number is a time only after "
                        + "\"at\", e.g. \"at 9\"")
                }
                throw failure("\"\(text(from: position))\" is not part of any accepted form")
            }
            return try build()
        }

        // MARK: Cursor

        func peek(_ offset: Int = 0) -> Token? {
            let index = position + offset
            return index >= 0 && index < tokens.count ? tokens[index] : nil
        }

        func word(_ offset: Int = 0) -> String? {
            guard let token = peek(offset), token.kind == .word else { return nil }
            return token.text
        }

        mutating func accept(_ expected: String) -> Bool {
            guard word() == expected else { return false }
            position += 1
            return true
        }

        /// The tokens from `start` (up to `count` of them) as the caller might have written them, for messages.
        func text(from start: Int, count: Int = .max) -> String {
            let end = count == .max ? tokens.count : min(tokens.count, start + count)
            guard start < end else { return "" }
            var result = ""
            for index in start..<end {
                let token = tokens[index]
                // "15th" and "9am" were split apart by the tokenizer; show them as written.
                let glued = token.kind == .word && index > start && tokens[index - 1].kind != .word
                    && (ScheduleParser.ordinalSuffixes.contains(token.text) || token.text == "am" || token.text == "pm")
                result += (result.isEmpty || glued ? "" : " ") + token.text
            }
            return result
        }

        func failure(_ reason: String) -> ScheduleParseError { ScheduleParseError(input: input, reason: reason) }

        // MARK: Recurrence

        /// "daily", "every 2 weeks", "every other Tuesday", "every Monday", "every 15th of March".
        mutating func parseRecurrence() throws(ScheduleParseError) -> Bool {
            guard let first = word() else { return false }
            if let adverb = ScheduleParser.adverbs[first] {
                position += 1
                try setUnit(adverb.unit, adverb.interval)
                return true
            }
            guard first == "every" || first == "each" else { return false }
            let start = position
            position += 1
            let counted = cardinal() == nil ? 0 : 1
            if let next = word(counted), ["minute", "minutes", "min", "mins", "seconds"].contains(next)
                || (next == "second" && peek(counted + 1) == nil) {
                throw failure("\"\(text(from: start, count: 3))\" is more often than supported: schedules run at most "
                    + "once an hour")
            }
            if let count = cardinal(), let step = word(1).flatMap(ScheduleParser.unit) {
                position += 2
                guard count >= 1 else {
                    throw failure("\"\(text(from: start, count: 3))\" is not a recurrence: an interval must be at "
                        + "least 1")
                }
                try setUnit(step.unit, Self.product(count, step.count))
                return true
            }
            let beforeOrdinal = position
            if let count = try parseOrdinal(), count > 0, let step = word().flatMap(ScheduleParser.unit) {
                position += 1
                try setUnit(step.unit, Self.product(count, step.count))
                return true
            }
            position = beforeOrdinal
            if accept("other") {
                if let step = word().flatMap(ScheduleParser.unit) {
                    position += 1
                    try setUnit(step.unit, 2 * step.count)
                    return true
                }
                if let list = parseWeekdayList() {
                    try setUnit(.week, 2)
                    try recordDays(weekdays: list.days)
                    return true
                }
                throw failure("no period or weekday understood in \"\(text(from: start, count: 3))\"")
            }
            if let step = word().flatMap(ScheduleParser.unit) {
                position += 1
                try setUnit(step.unit, step.count)
                return true
            }
            if try parseDaySpec() {
                recurring = true
                return true
            }
            throw failure("\"\(text(from: start, count: 2))\" names no period or day (such as \"every day\", "
                + "\"every Monday\" or \"every 15th\")")
        }

        /// A plain count at the cursor ("2", "two"), not an ordinal; the cursor does not move.
        func cardinal() -> Int? {
            guard let token = peek() else { return nil }
            if token.kind == .number {
                if let next = word(1), ScheduleParser.ordinalSuffixes.contains(next) { return nil }
                return Int(token.text) ?? .max
            }
            return token.kind == .word ? ScheduleParser.cardinals[token.text] : nil
        }

        mutating func setUnit(_ unit: Unit, _ interval: Int) throws(ScheduleParseError) {
            if let existing = self.unit {
                guard existing.unit == unit && existing.interval == interval else {
                    throw failure("it names two different periods (\(Self.describe(existing)) and "
                        + "\(Self.describe((unit, interval))))")
                }
                return
            }
            // Hours are checked against the day in `build`.
            let limits: [Unit: Int] = [.day: 366, .week: 53, .month: 24, .year: 10]
            if let limit = limits[unit], interval > limit {
                throw failure("every \(interval) \(unit.rawValue)s is longer than supported (at most \(limit))")
            }
            self.unit = (unit, interval)
        }

        /// Huge counts saturate instead of trapping; the limits reject them.
        static func product(_ a: Int, _ b: Int) -> Int {
            let (value, overflow) = a.multipliedReportingOverflow(by: b)
            return overflow ? .max : value
        }

        static func describe(_ unit: (unit: Unit, interval: Int)) -> String {
            unit.interval == 1 ? "every \(unit.unit.rawValue)" : "every \(unit.interval) \(unit.unit.rawValue)s"
        }

        // MARK: Days

        /// "[on] [the] <days>".
        mutating func parseDayClause() throws(ScheduleParseError) -> Bool {
            let start = position
            let saidOn = accept("on")
            _ = accept("the")
            if try parseDaySpec() { return true }
            if saidOn { throw failure("no day understood in \"\(text(from: start, count: 3))\"") }
            position = start
            return false
        }

        /// Weekdays ("Mon, Wed and Fri", "weekdays"), nth weekdays ("first Monday", "last Friday of every month"),
        /// days of the month ("15th", "1st and 15th", "last day") and dates ("March 15th", "15th of March",
        /// "1 January").
        mutating func parseDaySpec() throws(ScheduleParseError) -> Bool {
            if let list = parseWeekdayList() {
                try recordDays(weekdays: list.days)
                if list.plural { recurring = true }
                try parseOfClause()
                return true
            }
            if let month = word().flatMap(ScheduleParser.month) {
                let start = position
                position += 1
                _ = accept("the")
                guard let days = try parseDayNumberList() else {
                    throw failure("no day of the month understood in \"\(text(from: start, count: 3))\"")
                }
                try recordDays(monthDays: days)
                try recordMonths([month])
                return true
            }
            let start = position
            if let ordinals = try parseOrdinalList() {
                if let list = parseWeekdayList() {
                    try recordDays(weekdays: list.days, weekOrdinals: ordinals)
                    try parseOfClause()
                    return true
                }
                let saidDay = accept("day") || accept("days")
                if ordinals.contains(-1) && !saidDay {
                    throw failure("\"\(text(from: start, count: 3))\" does not say last what: a day (\"last day of "
                        + "every month\") or a weekday (\"last Friday of every month\")")
                }
                try recordDays(monthDays: ordinals)
                if let list = parseMonthList() {
                    try recordMonths(list)
                } else {
                    try parseOfClause()
                }
                return true
            }
            if let token = peek(), token.kind == .number, let month = word(1).flatMap(ScheduleParser.month) {
                position += 2
                try recordDays(monthDays: [Int(token.text) ?? .max])
                try recordMonths([month])
                return true
            }
            return false
        }

        /// "Monday", "Mon, Wed and Fri", "Mondays and every Thursday", "weekends".
        mutating func parseWeekdayList() -> (days: [Int], plural: Bool)? {
            guard let first = word().flatMap(ScheduleParser.weekdays) else { return nil }
            position += 1
            var days = first.days, plural = first.plural
            while true {
                let save = position
                if accept("and") { _ = accept("every") || accept("on") }
                guard let next = word().flatMap(ScheduleParser.weekdays) else {
                    position = save
                    break
                }
                position += 1
                days += next.days
                plural = plural || next.plural
            }
            return (days, plural)
        }

        mutating func parseMonthList() -> [Int]? {
            guard let first = word().flatMap(ScheduleParser.month) else { return nil }
            position += 1
            var months = [first]
            while true {
                let save = position
                guard accept("and"), let next = word().flatMap(ScheduleParser.month) else {
                    position = save
                    break
                }
                position += 1
                months.append(next)
            }
            return months
        }

        /// "of every month", "of each month", "of the month", "of March", "of every March".
        mutating func parseOfClause() throws(ScheduleParseError) {
            let start = position
            guard accept("of") else { return }
            if accept("every") || accept("each") {
                if accept("month") { return try setUnit(.month, 1) }
                if accept("other") && accept("month") { return try setUnit(.month, 2) }
                if let list = parseMonthList() {
                    recurring = true
                    return try recordMonths(list)
                }
            } else {
                _ = accept("the")
                if accept("month") {
                    monthContext = true
                    return
                }
                if let list = parseMonthList() { return try recordMonths(list) }
            }
            throw failure("no month understood in \"\(text(from: start, count: 3))\"")
        }

        /// An ordinal at the cursor: "15th", "first", "twenty-first", "twenty first", or "last" (-1); nil, without
        /// moving, if there is none.
        mutating func parseOrdinal() throws(ScheduleParseError) -> Int? {
            guard let token = peek() else { return nil }
            if token.kind == .number, let suffix = word(1), ScheduleParser.ordinalSuffixes.contains(suffix) {
                guard let value = Int(token.text), suffix == ScheduleParser.ordinalSuffix(value) else {
                    throw failure("\"\(token.text)\(suffix)\" is not an ordinal")
                }
                position += 2
                return value
            }
            guard token.kind == .word else { return nil }
            if token.text == "last" {
                position += 1
                return -1
            }
            if let value = ScheduleParser.ordinals[token.text] {
                position += 1
                return value
            }
            if let tens = ScheduleParser.ordinalTens[token.text], let next = word(1),
               let value = ScheduleParser.ordinals[next], value < 10 {
                position += 2
                return tens + value
            }
            return nil
        }

        /// "1st and 15th", "first and third", "last".
        mutating func parseOrdinalList() throws(ScheduleParseError) -> [Int]? {
            guard let first = try parseOrdinal() else { return nil }
            var list = [first]
            while true {
                let save = position
                guard accept("and"), let next = try parseOrdinal() else {
                    position = save
                    break
                }
                list.append(next)
            }
            return list
        }

        /// Days after a month name: "15th", "15", "1st and 15th"; "last" is not one.
        mutating func parseDayNumberList() throws(ScheduleParseError) -> [Int]? {
            var list: [Int] = []
            while true {
                let save = position
                if !list.isEmpty && !accept("and") { break }
                let suffixed = word(1).map(ScheduleParser.ordinalSuffixes.contains) == true
                if let token = peek(), token.kind == .number, !suffixed {
                    position += 1
                    list.append(Int(token.text) ?? .max)
                } else if word() != "last", let value = try parseOrdinal() {
                    list.append(value)
                } else {
                    position = save
                    break
                }
            }
            return list.isEmpty ? nil : list
        }

        mutating func recordDays(weekdays: [Int] = [], weekOrdinals: [Int] = [], monthDays: [Int] = [])
            throws(ScheduleParseError) {
            guard !haveDays else { throw failure("it names days twice; put them in one list") }
            haveDays = true
            self.weekdays = weekdays
            self.weekOrdinals = weekOrdinals
            self.monthDays = monthDays
        }

        mutating func recordMonths(_ months: [Int]) throws(ScheduleParseError) {
            guard self.months.isEmpty else { throw failure("it names months twice; put them in one list") }
            self.months = months
        }
    }
}
