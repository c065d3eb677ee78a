import Foundation

/// A knap's recurring schedule, stored as JSON in `schedule_info`. Times are wall-clock times in the knap's time zone,
/// so "every Monday at 9am" stays at 9am across daylight-saving changes.
///
/// Slots are found by walking local calendar days (proleptic Gregorian arithmetic, which has no time zone to get
/// wrong) and turning each matching day's wall time into an instant with the zone's UTC offsets, checked explicitly:
/// - a wall time inside a spring-forward gap runs once, shifted by the gap (02:30 on a New York spring-forward day runs
///   at 03:30 EDT), as cron does;
/// - an ambiguous wall time on a fall-back day runs once, at its first occurrence (01:30 EDT, not 01:30 EST);
/// - hourly schedules instead run once per absolute hour: on a fall-back day both 01:15 EDT and 01:15 EST run, and
///   the hour skipped by spring-forward has no run of its own.
/// A day of the month a month lacks (the 31st in April) has no slot that month; -1 is the last day of every month.
/// "every N hours" keeps local hours that are multiples of N (as cron's `*/N`); the other kinds count N periods from
/// `anchorDate`.
public struct ScheduleInfo: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case hourly, daily, weekly, monthly, yearly }

    public var scheduleType: Kind
    /// "HH:MM", 24-hour, local; only the minute counts for hourly schedules ("00:MM").
    public var scheduleTime: String
    /// ISO weekdays, Monday = 1 … Sunday = 7.
    public var daysOfWeek: [Int]
    /// 1…31, or -1 for the last day of the month.
    public var daysOfMonth: [Int]
    /// With `daysOfWeek`: the nth such weekday of the month (1…5), or -1 for the last.
    public var weeksOfMonth: [Int]
    public var monthsOfYear: [Int]
    public var interval: Int
    /// "YYYY-MM-DD": the local date of a slot, which fixes the phase of "every 2 weeks".
    public var anchorDate: String?

    enum CodingKeys: String, CodingKey {
        case scheduleType = "schedule_type", scheduleTime = "schedule_time", daysOfWeek = "days_of_week"
        case daysOfMonth = "days_of_month", weeksOfMonth = "weeks_of_month", monthsOfYear = "months_of_year"
        case interval, anchorDate = "anchor_date"
    }

    public init(scheduleType: Kind, scheduleTime: String, daysOfWeek: [Int] = [], daysOfMonth: [Int] = [],
                weeksOfMonth: [Int] = [], monthsOfYear: [Int] = [], interval: Int = 1, anchorDate: String? = nil) {
        self.scheduleType = scheduleType
        self.scheduleTime = scheduleTime
        self.daysOfWeek = daysOfWeek
        self.daysOfMonth = daysOfMonth
        self.weeksOfMonth = weeksOfMonth
        self.monthsOfYear = monthsOfYear
        self.interval = interval
        self.anchorDate = anchorDate
    }

    /// Tolerates missing optional fields, so schedules stored before a field existed still load.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        scheduleType = try container.decode(Kind.self, forKey: .scheduleType)
        scheduleTime = try container.decode(String.self, forKey: .scheduleTime)
        daysOfWeek = try container.decodeIfPresent([Int].self, forKey: .daysOfWeek) ?? []
        daysOfMonth = try container.decodeIfPresent([Int].self, forKey: .daysOfMonth) ?? []
        weeksOfMonth = try container.decodeIfPresent([Int].self, forKey: .weeksOfMonth) ?? []
        monthsOfYear = try container.decodeIfPresent([Int].self, forKey: .monthsOfYear) ?? []
        interval = try container.decodeIfPresent(Int.self, forKey: .interval) ?? 1
        anchorDate = try container.decodeIfPresent(String.self, forKey: .anchorDate)
    }

    /// The first slot strictly after `date`, in `timeZone`; nil only if none exists (or the stored schedule is
    /// malformed, which the parser never produces).
    public func nextRun(after date: Date, in timeZone: TimeZone) -> Date? {
        firstSlot(after: date, in: timeZone)?.instant
    }

    /// Fixes the phase of an interval schedule at the first slot after `now`, so "every 2 weeks" keeps counting from
    /// the week it was set up in instead of from whenever it is next asked. Hourly intervals are phased by the clock.
    public func anchored(after now: Date, in timeZone: TimeZone) -> ScheduleInfo {
        guard interval > 1, scheduleType != .hourly else { return self }
        var copy = self
        copy.anchorDate = nil
        guard let slot = copy.firstSlot(after: now, in: timeZone) else { return self }
        copy.anchorDate = LocalDay(slot.day).isoString
        return copy
    }
}

// MARK: - Next run

extension ScheduleInfo {
    /// Wall times this far before `date` cannot be after it: no zone moves its clock by more than this.
    private static let largestClockShift = 3 * 3_600

    /// The first slot after `date`, with the local day it belongs to (a gap can push the instant into the next day).
    func firstSlot(after date: Date, in timeZone: TimeZone) -> (day: Int, instant: Date)? {
        let after = date.timeIntervalSince1970
        guard let rules = Rules(self), after.isFinite, abs(after) < 1e12 else { return nil }
        let localNow = Int(after.rounded(.down)) + timeZone.secondsFromGMT(for: date)
        let today = Self.floorDiv(localNow, 86_400)
        let earliestWall = localNow - Self.largestClockShift
        // Enough days for Feb 29 every `interval` years across a skipped century leap year (intervals are capped).
        let span = 366 * 9 * min(interval, 10) + 7
        for number in (today - 1)...(today + span) {
            let day = LocalDay(number)
            guard rules.matches(day) else { continue }
            for hour in rules.hours {
                let wall = number * 86_400 + hour * 3_600 + rules.minute * 60
                guard wall >= earliestWall else { continue }
                for instant in Self.instants(ofWall: wall, in: timeZone, everyOccurrence: scheduleType == .hourly)
                where Double(instant) > after {
                    return (number, Date(timeIntervalSince1970: Double(instant)))
                }
            }
        }
        return nil
    }

    /// The instants (seconds since 1970) showing wall time `wall` (local seconds since 1970), earliest first. Offsets
    /// are sampled 14 hours either side, the widest any zone is from UTC, so a transition between them is seen.
    static func instants(ofWall wall: Int, in timeZone: TimeZone, everyOccurrence: Bool) -> [Int] {
        func offset(_ instant: Int) -> Int {
            timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant)))
        }
        let before = offset(wall - 50_400), after = offset(wall + 50_400)
        if before == after { return [wall - before] }
        let valid = Set([before, after]).map { wall - $0 }.filter { $0 + offset($0) == wall }.sorted()
        // In a spring-forward gap no instant shows this wall time: run as far after the gap as the time was into it.
        guard let first = valid.first else { return [wall - min(before, after)] }
        return everyOccurrence ? valid : [first]
    }
}

/// The schedule's fields checked once and turned into a per-day test.
private struct Rules {
    let kind: ScheduleInfo.Kind
    let minute: Int
    let hours: [Int]
    let daysOfWeek: Set<Int>
    let daysOfMonth: Set<Int>
    let weeksOfMonth: Set<Int>
    let monthsOfYear: Set<Int>
    let interval: Int
    let anchor: ScheduleInfo.LocalDay?

    /// Nil for a malformed schedule. A period named without days starts on its first day (Monday, the 1st, 1 January),
    /// as the parser writes it.
    init?(_ info: ScheduleInfo) {
        guard let (hour, minute) = ScheduleInfo.clock(info.scheduleTime), (1...1_000).contains(info.interval),
              info.daysOfWeek.allSatisfy((1...7).contains), info.monthsOfYear.allSatisfy((1...12).contains),
              info.daysOfMonth.allSatisfy({ (1...31).contains($0) || $0 == -1 }),
              info.weeksOfMonth.allSatisfy({ (1...5).contains($0) || $0 == -1 })
        else { return nil }
        kind = info.scheduleType
        self.minute = minute
        interval = info.interval
        weeksOfMonth = Set(info.weeksOfMonth)
        var daysOfWeek = Set(info.daysOfWeek), daysOfMonth = Set(info.daysOfMonth)
        var monthsOfYear = Set(info.monthsOfYear)
        switch kind {
        case .hourly:
            guard 24 % interval == 0 else { return nil }
            hours = Array(stride(from: 0, to: 24, by: interval))
        case .daily:
            hours = [hour]
        case .weekly:
            hours = [hour]
            if daysOfWeek.isEmpty { daysOfWeek = [1] }
        case .monthly, .yearly:
            hours = [hour]
            if weeksOfMonth.isEmpty && daysOfMonth.isEmpty { daysOfMonth = [1] }
            if kind == .yearly && monthsOfYear.isEmpty { monthsOfYear = [1] }
            guard weeksOfMonth.isEmpty || !daysOfWeek.isEmpty else { return nil }
        }
        self.daysOfWeek = daysOfWeek
        self.daysOfMonth = daysOfMonth
        self.monthsOfYear = monthsOfYear
        // Without an anchor the first slot is its own anchor, so every slot found before anchoring is in phase.
        anchor = info.interval > 1 ? info.anchorDate.flatMap(ScheduleInfo.LocalDay.init(iso:)) : nil
    }

    func matches(_ day: ScheduleInfo.LocalDay) -> Bool {
        if !monthsOfYear.isEmpty && !monthsOfYear.contains(day.month) { return false }
        if !weeksOfMonth.isEmpty {
            guard daysOfWeek.contains(day.weekday) else { return false }
            let nth = (day.day - 1) / 7 + 1, isLast = day.day + 7 > day.daysInMonth
            guard weeksOfMonth.contains(nth) || (isLast && weeksOfMonth.contains(-1)) else { return false }
        } else if !daysOfMonth.isEmpty {
            let isLast = day.day == day.daysInMonth
            guard daysOfMonth.contains(day.day) || (isLast && daysOfMonth.contains(-1)) else { return false }
        } else if !daysOfWeek.isEmpty {
            guard daysOfWeek.contains(day.weekday) else { return false }
        }
        return inPhase(day)
    }

    private func inPhase(_ day: ScheduleInfo.LocalDay) -> Bool {
        guard let anchor, interval > 1 else { return true }
        let distance: Int
        switch kind {
        case .hourly: return true
        case .daily: distance = day.number - anchor.number
        case .weekly: distance = day.mondayWeek - anchor.mondayWeek
        case .monthly: distance = (day.year * 12 + day.month) - (anchor.year * 12 + anchor.month)
        case .yearly: distance = day.year - anchor.year
        }
        return ScheduleInfo.floorMod(distance, interval) == 0
    }
}

// MARK: - Calendar arithmetic

extension ScheduleInfo {
    /// A local calendar date as a day number (days since 1970-01-01), with its proleptic Gregorian fields.
    struct LocalDay: Equatable {
        let number: Int
        let year: Int
        let month: Int
        let day: Int

        init(_ number: Int) {
            // Howard Hinnant's civil_from_days: exact for every day number, no time zone involved.
            let z = number + 719_468
            let era = floorDiv(z, 146_097)
            let dayOfEra = z - era * 146_097
            let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
            let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
            let shiftedMonth = (5 * dayOfYear + 2) / 153
            self.number = number
            day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
            month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
            year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        }

        init?(year: Int, month: Int, day: Int) {
            guard (1...12).contains(month), (1...LocalDay.daysIn(month: month, year: year)).contains(day) else {
                return nil
            }
            let shiftedYear = month <= 2 ? year - 1 : year
            let era = floorDiv(shiftedYear, 400)
            let yearOfEra = shiftedYear - era * 400
            let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
            let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
            self.init(era * 146_097 + dayOfEra - 719_468)
        }

        init?(iso text: String) {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
                  let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
            else { return nil }
            self.init(year: year, month: month, day: day)
        }

        /// ISO weekday: 1970-01-01 was a Thursday.
        var weekday: Int { floorMod(number + 3, 7) + 1 }
        /// Weeks counted from Monday 1969-12-29.
        var mondayWeek: Int { floorDiv(number + 3, 7) }
        var daysInMonth: Int { LocalDay.daysIn(month: month, year: year) }
        var isoString: String { "\(year)-\(pad2(month))-\(pad2(day))" }

        static func daysIn(month: Int, year: Int) -> Int {
            switch month {
            case 2: return isLeap(year) ? 29 : 28
            case 4, 6, 9, 11: return 30
            default: return 31
            }
        }

        static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int { (a - floorMod(a, b)) / b }
    static func floorMod(_ a: Int, _ b: Int) -> Int { ((a % b) + b) % b }
    static func pad2(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}

extension ScheduleInfo {
    /// Hour and minute of "HH:MM".
    static func clock(_ text: String) -> (hour: Int, minute: Int)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
              let hour = Int(parts[0]), let minute = Int(parts[1]), (0...23).contains(hour), (0...59).contains(minute)
        else { return nil }
        return (hour, minute)
    }
}

// MARK: - Summary

extension ScheduleInfo {
    /// Short English, e.g. "every Monday at 09:00", for logs and error messages.
    public var summary: String {
        let at = "at \(scheduleTime)"
        switch scheduleType {
        case .hourly:
            let minute = ":" + String(scheduleTime.suffix(2))
            let base = interval == 1 ? "every hour at \(minute)" : "every \(interval) hours at \(minute)"
            return daysOfWeek.isEmpty ? base : "\(base) on \(Self.weekdayList(daysOfWeek))"
        case .daily:
            return (interval == 1 ? "every day " : "every \(interval) days ") + at
        case .weekly:
            let days = Self.weekdayList(daysOfWeek.isEmpty ? [1] : daysOfWeek)
            return (interval == 1 ? "every \(days) " : "every \(interval) weeks on \(days) ") + at
        case .monthly:
            let period = interval == 1 ? "every month" : "every \(interval) months"
            return "on the \(dayPart) of \(period) \(at)"
        case .yearly:
            let months = Self.list((monthsOfYear.isEmpty ? [1] : monthsOfYear).map {
                (1...12).contains($0) ? Self.monthNames[$0 - 1] : "month \($0)"
            })
            let period = interval == 1 ? "every year" : "every \(interval) years"
            return "on the \(dayPart) of \(months) \(period) \(at)"
        }
    }

    private var dayPart: String {
        if !weeksOfMonth.isEmpty {
            let words = [-1: "last", 1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"]
            return Self.list(weeksOfMonth.map { words[$0] ?? Self.ordinal($0) }) + " " + Self.weekdayList(daysOfWeek)
        }
        let days = daysOfMonth.isEmpty ? [1] : daysOfMonth
        return Self.list(days.map { $0 == -1 ? "last day" : Self.ordinal($0) })
    }

    static let weekdayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                             "October", "November", "December"]

    private static func weekdayList(_ days: [Int]) -> String {
        if days == [1, 2, 3, 4, 5] { return "weekday" }
        if days == [6, 7] { return "weekend day" }
        return list(days.map { (1...7).contains($0) ? weekdayNames[$0 - 1] : "day \($0)" })
    }

    private static func ordinal(_ n: Int) -> String {
        if n == -1 { return "last" }
        let suffix = (11...13).contains(n % 100) ? "th" : [1: "st", 2: "nd", 3: "rd"][n % 10] ?? "th"
        return "\(n)\(suffix)"
    }

    private static func list(_ items: [String]) -> String {
        guard let last = items.last else { return "" }
        return items.count == 1 ? last : items.dropLast().joined(separator: ", ") + " and " + last
    }
}
