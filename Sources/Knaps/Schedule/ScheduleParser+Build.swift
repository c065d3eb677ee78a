import Foundation

extension ScheduleParser.Grammar {
    /// Checks the facts against each other and the calendar, and picks the schedule kind: an explicit period wins,
    /// otherwise the most specific days said decide (a date is yearly, a day of the month monthly, a weekday weekly).
    mutating func build() throws(ScheduleParseError) -> ScheduleInfo {
        if monthContext {
            if let unit, unit.unit != .month {
                throw failure("\"of the month\" does not fit \(Self.describe(unit))")
            }
            if unit == nil { unit = (.month, 1) }
        }
        let weekdays = Array(Set(self.weekdays)).sorted()
        let weekOrdinals = Array(Set(self.weekOrdinals)).sorted()
        let monthDays = Array(Set(self.monthDays)).sorted()
        let months = Array(Set(self.months)).sorted()
        var resolved = unit
        if resolved == nil { resolved = try inferredUnit() }
        guard let (period, interval) = resolved else {
            throw failure("it does not say how often, e.g. \"every Monday at 9am\" or \"daily at 9am\"")
        }

        switch period {
        case .hour:
            guard monthDays.isEmpty, weekOrdinals.isEmpty, months.isEmpty else {
                throw failure("an hourly schedule can only be limited to weekdays, e.g. \"every hour on weekdays\"")
            }
            guard interval < 24 else {
                throw failure("every \(interval) hours is once a day or less; say e.g. \"daily at 9am\"")
            }
            guard 24 % interval == 0 else {
                throw failure("every \(interval) hours does not divide the day; use 2, 3, 4, 6, 8 or 12")
            }
            let minute: Int
            switch time {
            case nil: minute = 0
            case .minutePastHour(let value)?: minute = value
            case .clock?:
                throw failure("an hourly schedule takes only a minute past the hour, e.g. \"every hour at :15\"")
            }
            return ScheduleInfo(scheduleType: .hourly, scheduleTime: "00:\(ScheduleInfo.pad2(minute))",
                                daysOfWeek: weekdays, interval: interval)
        case .day:
            let clock = try clockTime()
            guard weekdays.isEmpty, monthDays.isEmpty, months.isEmpty else {
                throw failure("a daily schedule cannot also name days; for some days say e.g. \"every Monday and "
                    + "Thursday\" or \"weekdays\"")
            }
            return ScheduleInfo(scheduleType: .daily, scheduleTime: clock, interval: interval)
        case .week:
            let clock = try clockTime()
            guard monthDays.isEmpty, weekOrdinals.isEmpty, months.isEmpty else {
                throw failure("a weekly schedule takes weekdays only, e.g. \"every week on Tuesday\"")
            }
            return ScheduleInfo(scheduleType: .weekly, scheduleTime: clock,
                                daysOfWeek: weekdays.isEmpty ? [1] : weekdays, interval: interval)
        case .month:
            let clock = try clockTime()
            guard months.isEmpty else {
                throw failure("a monthly schedule cannot name months; for a yearly one say e.g. \"every year on "
                    + "March 15\"")
            }
            let days = try monthlyDays(weekdays: weekdays, weekOrdinals: weekOrdinals, monthDays: monthDays)
            return ScheduleInfo(scheduleType: .monthly, scheduleTime: clock, daysOfWeek: days.weekdays,
                                daysOfMonth: days.monthDays, weeksOfMonth: days.weekOrdinals, interval: interval)
        case .year:
            let clock = try clockTime()
            let saidDays = !weekdays.isEmpty || !monthDays.isEmpty
            guard months.isEmpty == !saidDays else {
                throw failure(months.isEmpty ? "a yearly schedule needs a month, e.g. \"every year on March 15\""
                    : "a yearly schedule needs a day of the month, e.g. \"every year on March 15\"")
            }
            let days = try monthlyDays(weekdays: weekdays, weekOrdinals: weekOrdinals, monthDays: monthDays)
            for month in months {
                for day in days.monthDays where day > ScheduleInfo.LocalDay.daysIn(month: month, year: 2000) {
                    throw failure("\(ScheduleInfo.monthNames[month - 1]) \(day) does not exist")
                }
            }
            return ScheduleInfo(scheduleType: .yearly, scheduleTime: clock, daysOfWeek: days.weekdays,
                                daysOfMonth: days.monthDays, weeksOfMonth: days.weekOrdinals,
                                monthsOfYear: months.isEmpty ? [1] : months, interval: interval)
        }
    }

    /// "HH:MM" for the kinds that run once a day; 09:00 when no time is given.
    private func clockTime() throws(ScheduleParseError) -> String {
        switch time {
        case nil: return "09:00"
        case .clock(let hour, let minute)?: return "\(ScheduleInfo.pad2(hour)):\(ScheduleInfo.pad2(minute))"
        case .minutePastHour?:
            throw failure("a minute past the hour needs an hourly schedule, e.g. \"every hour at :15\"")
        }
    }

    /// The period the days imply when none is named; recurring days are required, so "at 9am" or "on Monday" alone
    /// (which may mean once) are rejected.
    private func inferredUnit() throws(ScheduleParseError) -> (unit: ScheduleParser.Unit, interval: Int)? {
        guard recurring else { return nil }
        if !months.isEmpty { return (.year, 1) }
        // "every first Monday" and "every last Friday" can only mean a month's; "every second Tuesday" may mean
        // every other one.
        if !weekOrdinals.isEmpty {
            guard weekOrdinals.allSatisfy({ $0 == 1 || $0 == -1 }) else {
                throw failure("\"every\" with an nth weekday is ambiguous; say e.g. \"second Tuesday of every month\" "
                    + "or \"every other Tuesday\"")
            }
            return (.month, 1)
        }
        if !monthDays.isEmpty { return (.month, 1) }
        if !weekdays.isEmpty { return (.week, 1) }
        return nil
    }

    /// Days within a month: nth weekdays, or days of the month (the 1st when none are named).
    private func monthlyDays(weekdays: [Int], weekOrdinals: [Int], monthDays: [Int])
        throws(ScheduleParseError) -> (weekdays: [Int], weekOrdinals: [Int], monthDays: [Int]) {
        if !weekOrdinals.isEmpty {
            for nth in weekOrdinals where !(1...5).contains(nth) && nth != -1 {
                throw failure("a month has no \(nth)\(ScheduleParser.ordinalSuffix(nth)) "
                    + ScheduleInfo.weekdayNames[(weekdays.first ?? 1) - 1])
            }
            return (weekdays, weekOrdinals, [])
        }
        if let weekday = weekdays.first {
            throw failure("it does not say which \(ScheduleInfo.weekdayNames[weekday - 1]) of the month, e.g. "
                + "\"first \(ScheduleInfo.weekdayNames[weekday - 1]) of every month\"")
        }
        for day in monthDays where !(1...31).contains(day) && day != -1 {
            throw failure("the \(day)\(ScheduleParser.ordinalSuffix(day)) is not a day of a month")
        }
        return ([], [], monthDays.isEmpty ? [1] : monthDays)
    }
}
