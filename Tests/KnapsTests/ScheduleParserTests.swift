import Foundation
import Knaps
import Testing

/// The schedule grammar and next-run calculation, through the public API only. Every expected instant below was
/// worked out by hand from the calendar (2026-01-01 is a Thursday) and the zones' 2026–2028 transitions:
/// New York EST→EDT 2026-03-08 07:00Z, EDT→EST 2026-11-01 06:00Z, EDT from 2027-03-14;
/// Berlin CET→CEST 2026-03-29 01:00Z, CEST→CET 2026-10-25 01:00Z, CEST from 2027-03-28 and 2028-03-26;
/// Sydney AEDT→AEST 2026-04-04 16:00Z (local 03:00→02:00), AEST→AEDT 2026-10-03 16:00Z (local 02:00→03:00);
/// Kolkata +05:30 all year.
@Suite struct ScheduleParserTests {
    // MARK: Reference examples

    static let references: [(String, ScheduleInfo)] = [
        ("every Monday at 9am", ScheduleInfo(scheduleType: .weekly, scheduleTime: "09:00", daysOfWeek: [1])),
        ("daily at 2:30 PM", ScheduleInfo(scheduleType: .daily, scheduleTime: "14:30")),
        ("every Thursday at 11 AM", ScheduleInfo(scheduleType: .weekly, scheduleTime: "11:00", daysOfWeek: [4])),
        ("15th of every month at 10:00", ScheduleInfo(scheduleType: .monthly, scheduleTime: "10:00", daysOfMonth: [15])),
        ("first Monday of every month",
         ScheduleInfo(scheduleType: .monthly, scheduleTime: "09:00", daysOfWeek: [1], weeksOfMonth: [1])),
        ("every March 15th at 2 PM",
         ScheduleInfo(scheduleType: .yearly, scheduleTime: "14:00", daysOfMonth: [15], monthsOfYear: [3])),
    ]

    @Test(arguments: references)
    func referenceExamplesParseExactly(_ phrase: String, _ expected: ScheduleInfo) throws {
        #expect(try ScheduleParser.parse(phrase) == expected)
    }

    @Test(arguments: ScheduleParser.acceptedForms)
    func everyAdvertisedFormParses(_ phrase: String) throws {
        _ = try ScheduleParser.parse(phrase)
    }

    // MARK: Phrasings and their next runs

    struct Case: Sendable, CustomTestStringConvertible {
        let phrase: String
        let expected: ScheduleInfo
        let zone: String
        let now: String
        /// Successive next runs, each counted from the one before (the first from `now`).
        let runs: [String]
        /// For interval schedules: the anchor the server stores when the knap is set up at `now`.
        var anchor: String? = nil

        var testDescription: String { "\"\(phrase)\" in \(zone) after \(now)" }
    }

    static let cases: [Case] = [
        // The reference examples, run.
        Case(phrase: "every Monday at 9am", expected: weekly([1]), zone: "America/New_York", now: "2026-01-05T08:00:00Z",
             runs: ["2026-01-05T14:00:00Z", "2026-01-12T14:00:00Z"]),
        // 14:30 is 13:30Z in winter time and 12:30Z from Berlin's spring-forward Sunday on.
        Case(phrase: "daily at 2:30 PM", expected: daily("14:30"), zone: "Europe/Berlin", now: "2026-03-28T12:00:00Z",
             runs: ["2026-03-28T13:30:00Z", "2026-03-29T12:30:00Z", "2026-03-30T12:30:00Z"]),
        // "now" is exactly the Thursday slot (11:00 IST = 05:30Z), which is therefore not returned.
        Case(phrase: "every Thursday at 11 AM", expected: weekly([4], "11:00"), zone: "Asia/Kolkata",
             now: "2026-01-01T05:30:00Z", runs: ["2026-01-08T05:30:00Z", "2026-01-15T05:30:00Z"]),
        Case(phrase: "15th of every month at 10:00", expected: monthly(days: [15], "10:00"), zone: "UTC",
             now: "2026-01-15T10:00:00Z", runs: ["2026-02-15T10:00:00Z", "2026-03-15T10:00:00Z"]),
        // First Mondays: Jan 5, Feb 2, Mar 2 (EST), Apr 6 (EDT).
        Case(phrase: "first Monday of every month", expected: monthly(weeks: [1], weekdays: [1]),
             zone: "America/New_York", now: "2026-01-01T00:00:00Z",
             runs: ["2026-01-05T14:00:00Z", "2026-02-02T14:00:00Z", "2026-03-02T14:00:00Z", "2026-04-06T13:00:00Z"]),
        // March 15 is before Berlin's spring-forward in 2026, 2027 and 2028: always CET.
        Case(phrase: "every March 15th at 2 PM", expected: yearly(months: [3], days: [15], "14:00"), zone: "Europe/Berlin",
             now: "2026-03-15T13:00:00Z", runs: ["2027-03-15T13:00:00Z", "2028-03-15T13:00:00Z"]),

        // Times.
        Case(phrase: "every Monday 9am", expected: weekly([1]), zone: "UTC", now: "2026-01-06T00:00:00Z",
             runs: ["2026-01-12T09:00:00Z"]),
        Case(phrase: "every day at 9 am", expected: daily("09:00"), zone: "UTC", now: "2026-01-05T09:00:00Z",
             runs: ["2026-01-06T09:00:00Z"]),
        Case(phrase: "daily at 9:30am", expected: daily("09:30"), zone: "Asia/Kolkata", now: "2026-01-05T00:00:00Z",
             runs: ["2026-01-05T04:00:00Z", "2026-01-06T04:00:00Z"]),
        Case(phrase: "daily at 9.30 am", expected: daily("09:30"), zone: "UTC", now: "2026-01-05T00:00:00Z",
             runs: ["2026-01-05T09:30:00Z"]),
        Case(phrase: "every day at 14:30", expected: daily("14:30"), zone: "Australia/Sydney", now: "2026-01-10T00:00:00Z",
             runs: ["2026-01-10T03:30:00Z"]),
        // New York's spring-forward Sunday: 08:00 moves from 13:00Z to 12:00Z.
        Case(phrase: "everyday at 8", expected: daily("08:00"), zone: "America/New_York", now: "2026-03-07T12:00:00Z",
             runs: ["2026-03-07T13:00:00Z", "2026-03-08T12:00:00Z", "2026-03-09T12:00:00Z"]),
        Case(phrase: "each day at 21", expected: daily("21:00"), zone: "UTC", now: "2026-01-01T21:00:01Z",
             runs: ["2026-01-02T21:00:00Z"]),
        Case(phrase: "daily at noon", expected: daily("12:00"), zone: "Europe/Berlin", now: "2026-10-24T12:00:00Z",
             runs: ["2026-10-25T11:00:00Z", "2026-10-26T11:00:00Z"]),
        // Midnight on Sydney's fall-back day is still AEDT; the next is AEST.
        Case(phrase: "every day at midnight", expected: daily("00:00"), zone: "Australia/Sydney",
             now: "2026-04-04T12:00:00Z", runs: ["2026-04-04T13:00:00Z", "2026-04-05T14:00:00Z"]),
        Case(phrase: "every day at 9 o'clock", expected: daily("09:00"), zone: "UTC", now: "2026-01-01T00:00:00Z",
             runs: ["2026-01-01T09:00:00Z"]),
        Case(phrase: "daily at 12:30am", expected: daily("00:30"), zone: "UTC", now: "2026-01-01T00:00:00Z",
             runs: ["2026-01-01T00:30:00Z", "2026-01-02T00:30:00Z"]),
        Case(phrase: "at 6pm every weekday", expected: weekly([1, 2, 3, 4, 5], "18:00"), zone: "UTC",
             now: "2026-01-02T18:00:00Z", runs: ["2026-01-05T18:00:00Z"]),

        // Daylight-saving edges for once-a-day times.
        // 02:30 does not exist on 2026-03-08 in New York: it runs once, at 03:30 EDT.
        Case(phrase: "every day at 2:30", expected: daily("02:30"), zone: "America/New_York", now: "2026-03-07T12:00:00Z",
             runs: ["2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"]),
        // 01:30 happens twice on 2026-11-01 in New York: it runs once, at the first (EDT) one.
        Case(phrase: "every day at 1:30 AM", expected: daily("01:30"), zone: "America/New_York",
             now: "2026-10-31T12:00:00Z", runs: ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]),
        Case(phrase: "daily at 02:30", expected: daily("02:30"), zone: "Europe/Berlin", now: "2026-03-28T12:00:00Z",
             runs: ["2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"]),
        Case(phrase: "daily at 2:30am", expected: daily("02:30"), zone: "Europe/Berlin", now: "2026-10-24T12:00:00Z",
             runs: ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]),
        // Sydney springs forward on 2026-10-04 (02:00→03:00 local): 02:30 runs at 03:30 AEDT.
        Case(phrase: "every Sunday at 2:30am", expected: weekly([7], "02:30"), zone: "Australia/Sydney",
             now: "2026-10-01T00:00:00Z", runs: ["2026-10-03T16:30:00Z", "2026-10-10T15:30:00Z"]),
        // Sydney falls back on 2026-04-05 (03:00→02:00 local): 02:30 runs at its first, AEDT, occurrence.
        Case(phrase: "Sundays at 02:30", expected: weekly([7], "02:30"), zone: "Australia/Sydney",
             now: "2026-04-01T00:00:00Z", runs: ["2026-04-04T15:30:00Z", "2026-04-11T16:30:00Z"]),

        // Hourly: once per absolute hour, so New York's repeated 01:15 runs twice and the skipped hour not at all.
        Case(phrase: "every hour at :15", expected: hourly(minute: "15"), zone: "America/New_York",
             now: "2026-11-01T04:20:00Z", runs: ["2026-11-01T05:15:00Z", "2026-11-01T06:15:00Z", "2026-11-01T07:15:00Z"]),
        Case(phrase: "hourly", expected: hourly(minute: "00"), zone: "America/New_York", now: "2026-03-08T05:30:00Z",
             runs: ["2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"]),
        Case(phrase: "hourly at :30", expected: hourly(minute: "30"), zone: "Europe/Berlin", now: "2026-10-25T00:00:00Z",
             runs: ["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z"]),
        // Kolkata's half-hour offset: local :15 is UTC :45.
        Case(phrase: "every hour at 15 minutes past", expected: hourly(minute: "15"), zone: "Asia/Kolkata",
             now: "2026-01-01T00:00:00Z", runs: ["2026-01-01T00:45:00Z", "2026-01-01T01:45:00Z"]),
        // Sydney falls back at 03:00 AEDT (16:00Z): 02:00 AEDT, 02:00 AEST and 03:00 AEST are three hours in a row.
        Case(phrase: "every hour on the hour", expected: hourly(minute: "00"), zone: "Australia/Sydney",
             now: "2026-04-04T15:30:00Z", runs: ["2026-04-04T16:00:00Z", "2026-04-04T17:00:00Z"]),
        // Berlin skips 02:00–03:00 CET: 02:45 becomes 03:45 CEST, the same instant as the real 03:45, run once.
        Case(phrase: "every hour at :45", expected: hourly(minute: "45"), zone: "Europe/Berlin",
             now: "2026-03-29T00:30:00Z", runs: ["2026-03-29T00:45:00Z", "2026-03-29T01:45:00Z", "2026-03-29T02:45:00Z"]),
        Case(phrase: "every hour", expected: hourly(minute: "00"), zone: "UTC", now: "2026-01-01T10:00:00Z",
             runs: ["2026-01-01T11:00:00Z"]),
        Case(phrase: "every 6 hours", expected: hourly(minute: "00", every: 6), zone: "UTC", now: "2026-01-01T07:00:00Z",
             runs: ["2026-01-01T12:00:00Z", "2026-01-01T18:00:00Z", "2026-01-02T00:00:00Z"]),
        // Friday 23:30: the weekend has no slots, Monday's first is at midnight.
        Case(phrase: "every hour on weekdays", expected: hourly(minute: "00", weekdays: [1, 2, 3, 4, 5]), zone: "UTC",
             now: "2026-01-02T23:30:00Z", runs: ["2026-01-05T00:00:00Z", "2026-01-05T01:00:00Z"]),

        // Weekly.
        Case(phrase: "Mondays at 9", expected: weekly([1]), zone: "Europe/Berlin", now: "2026-03-28T00:00:00Z",
             runs: ["2026-03-30T07:00:00Z"]),
        Case(phrase: "on Mondays", expected: weekly([1]), zone: "UTC", now: "2026-01-05T09:00:00Z",
             runs: ["2026-01-12T09:00:00Z"]),
        Case(phrase: "every Monday and Wednesday at 9", expected: weekly([1, 3]), zone: "UTC",
             now: "2026-01-05T10:00:00Z", runs: ["2026-01-07T09:00:00Z", "2026-01-12T09:00:00Z"]),
        Case(phrase: "every Mon, Wed and Fri at 10am", expected: weekly([1, 3, 5], "10:00"), zone: "Asia/Kolkata",
             now: "2026-01-07T05:00:00Z", runs: ["2026-01-09T04:30:00Z", "2026-01-12T04:30:00Z"]),
        Case(phrase: "weekdays at 9am", expected: weekly([1, 2, 3, 4, 5]), zone: "America/New_York",
             now: "2026-01-02T15:00:00Z", runs: ["2026-01-05T14:00:00Z", "2026-01-06T14:00:00Z"]),
        Case(phrase: "every weekday", expected: weekly([1, 2, 3, 4, 5]), zone: "UTC", now: "2026-01-03T00:00:00Z",
             runs: ["2026-01-05T09:00:00Z"]),
        Case(phrase: "weekends at 10", expected: weekly([6, 7], "10:00"), zone: "Australia/Sydney",
             now: "2026-01-05T00:00:00Z", runs: ["2026-01-09T23:00:00Z", "2026-01-10T23:00:00Z"]),
        Case(phrase: "every weekend", expected: weekly([6, 7]), zone: "UTC", now: "2026-01-01T00:00:00Z",
             runs: ["2026-01-03T09:00:00Z", "2026-01-04T09:00:00Z"]),
        Case(phrase: "every week on Tuesday", expected: weekly([2]), zone: "UTC", now: "2026-01-01T00:00:00Z",
             runs: ["2026-01-06T09:00:00Z"]),
        Case(phrase: "Thursdays at 3:45pm", expected: weekly([4], "15:45"), zone: "UTC", now: "2026-01-01T00:00:00Z",
             runs: ["2026-01-01T15:45:00Z"]),
        Case(phrase: "every Tues and Thurs at 07:00", expected: weekly([2, 4], "07:00"), zone: "UTC",
             now: "2026-01-01T07:00:00Z", runs: ["2026-01-06T07:00:00Z", "2026-01-08T07:00:00Z"]),
        // Across New York's fall-back: 17:00 EDT is 21:00Z, 17:00 EST 22:00Z.
        Case(phrase: "weekly on Friday at 5pm", expected: weekly([5], "17:00"), zone: "America/New_York",
             now: "2026-10-30T00:00:00Z", runs: ["2026-10-30T21:00:00Z", "2026-11-06T22:00:00Z"]),
        Case(phrase: "weekly", expected: weekly([1]), zone: "UTC", now: "2026-01-01T00:00:00Z",
             runs: ["2026-01-05T09:00:00Z"]),

        // Every few weeks: the phase is fixed by the first slot after set-up.
        Case(phrase: "every 2 weeks on Tuesday", expected: weekly([2], every: 2), zone: "UTC", now: "2026-01-01T00:00:00Z",
             runs: ["2026-01-06T09:00:00Z", "2026-01-20T09:00:00Z", "2026-02-03T09:00:00Z"], anchor: "2026-01-06"),
        Case(phrase: "every other Tuesday at 17:00", expected: weekly([2], "17:00", every: 2), zone: "Europe/Berlin",
             now: "2026-01-07T00:00:00Z", runs: ["2026-01-13T16:00:00Z", "2026-01-27T16:00:00Z"], anchor: "2026-01-13"),
        // Set up exactly at a Tuesday slot: the phase starts with the next Tuesday.
        Case(phrase: "biweekly on Tuesday", expected: weekly([2], every: 2), zone: "UTC", now: "2026-01-06T09:00:00Z",
             runs: ["2026-01-13T09:00:00Z", "2026-01-27T09:00:00Z"], anchor: "2026-01-13"),
        Case(phrase: "every 3 weeks on Monday", expected: weekly([1], every: 3), zone: "UTC", now: "2026-01-01T00:00:00Z",
             runs: ["2026-01-05T09:00:00Z", "2026-01-26T09:00:00Z", "2026-02-16T09:00:00Z"], anchor: "2026-01-05"),
        // Weeks start on Monday: anchored on Friday the 9th, the Monday of that week (the 5th) is in phase too.
        Case(phrase: "every 2 weeks on Monday and Friday", expected: weekly([1, 5], every: 2), zone: "UTC",
             now: "2026-01-07T00:00:00Z",
             runs: ["2026-01-09T09:00:00Z", "2026-01-19T09:00:00Z", "2026-01-23T09:00:00Z", "2026-02-02T09:00:00Z"],
             anchor: "2026-01-09"),
        Case(phrase: "every 2 days at 9", expected: daily("09:00", every: 2), zone: "UTC", now: "2026-01-01T10:00:00Z",
             runs: ["2026-01-02T09:00:00Z", "2026-01-04T09:00:00Z", "2026-01-06T09:00:00Z"], anchor: "2026-01-02"),
        Case(phrase: "every other month on the 1st", expected: monthly(days: [1], every: 2), zone: "UTC",
             now: "2026-01-15T00:00:00Z", runs: ["2026-02-01T09:00:00Z", "2026-04-01T09:00:00Z", "2026-06-01T09:00:00Z"],
             anchor: "2026-02-01"),

        // Monthly.
        Case(phrase: "on the 15th of each month", expected: monthly(days: [15]), zone: "Australia/Sydney",
             now: "2026-01-01T00:00:00Z", runs: ["2026-01-14T22:00:00Z", "2026-02-14T22:00:00Z"]),
        Case(phrase: "monthly on the 1st", expected: monthly(days: [1]), zone: "America/New_York",
             now: "2026-02-15T00:00:00Z", runs: ["2026-03-01T14:00:00Z", "2026-04-01T13:00:00Z"]),
        Case(phrase: "every month on the 1st at 8am", expected: monthly(days: [1], "08:00"), zone: "UTC",
             now: "2026-01-01T08:00:00Z", runs: ["2026-02-01T08:00:00Z"]),
        Case(phrase: "the 1st and 15th of every month", expected: monthly(days: [1, 15]), zone: "UTC",
             now: "2026-01-02T00:00:00Z", runs: ["2026-01-15T09:00:00Z", "2026-02-01T09:00:00Z"]),
        // February 2027 has 28 days, February 2028 has 29.
        Case(phrase: "last day of every month", expected: monthly(days: [-1]), zone: "UTC", now: "2027-02-01T00:00:00Z",
             runs: ["2027-02-28T09:00:00Z", "2027-03-31T09:00:00Z", "2027-04-30T09:00:00Z"]),
        Case(phrase: "last day of the month at 18:00", expected: monthly(days: [-1], "18:00"), zone: "UTC",
             now: "2028-02-01T00:00:00Z", runs: ["2028-02-29T18:00:00Z", "2028-03-31T18:00:00Z"]),
        // Last Fridays: Jan 30, Feb 27 (EST), Mar 27 (EDT).
        Case(phrase: "last Friday of every month", expected: monthly(weeks: [-1], weekdays: [5]), zone: "America/New_York",
             now: "2026-01-01T00:00:00Z", runs: ["2026-01-30T14:00:00Z", "2026-02-27T14:00:00Z", "2026-03-27T13:00:00Z"]),
        // April and June have no 31st, so they are skipped.
        Case(phrase: "the 31st of every month at 12:00", expected: monthly(days: [31], "12:00"), zone: "UTC",
             now: "2026-03-31T12:00:00Z", runs: ["2026-05-31T12:00:00Z", "2026-07-31T12:00:00Z", "2026-08-31T12:00:00Z"]),
        // Only March (2, 9, 16, 23, 30) and June (1 … 29) of 2026's first half have five Mondays.
        Case(phrase: "fifth Monday of every month", expected: monthly(weeks: [5], weekdays: [1]), zone: "UTC",
             now: "2026-01-01T00:00:00Z", runs: ["2026-03-30T09:00:00Z", "2026-06-29T09:00:00Z"]),
        Case(phrase: "the second Tuesday of the month", expected: monthly(weeks: [2], weekdays: [2]), zone: "Asia/Kolkata",
             now: "2026-01-01T00:00:00Z", runs: ["2026-01-13T03:30:00Z", "2026-02-10T03:30:00Z"]),
        Case(phrase: "monthly", expected: monthly(days: [1]), zone: "Europe/Berlin", now: "2026-03-01T09:00:00Z",
             runs: ["2026-04-01T07:00:00Z"]),
        Case(phrase: "first and third Monday of every month at 8:30", expected: monthly(weeks: [1, 3], weekdays: [1], "08:30"),
             zone: "UTC", now: "2026-01-01T00:00:00Z",
             runs: ["2026-01-05T08:30:00Z", "2026-01-19T08:30:00Z", "2026-02-02T08:30:00Z"]),
        Case(phrase: "every last Friday at 5pm", expected: monthly(weeks: [-1], weekdays: [5], "17:00"), zone: "UTC",
             now: "2026-01-31T00:00:00Z", runs: ["2026-02-27T17:00:00Z", "2026-03-27T17:00:00Z"]),
        Case(phrase: "the twenty-first of every month", expected: monthly(days: [21]), zone: "UTC",
             now: "2026-01-22T00:00:00Z", runs: ["2026-02-21T09:00:00Z"]),

        // Yearly.
        Case(phrase: "every year on March 15 at 14:00", expected: yearly(months: [3], days: [15], "14:00"),
             zone: "America/New_York", now: "2026-03-16T00:00:00Z", runs: ["2027-03-15T18:00:00Z"]),
        Case(phrase: "annually on 1 January", expected: yearly(months: [1], days: [1]), zone: "Australia/Sydney",
             now: "2026-06-01T00:00:00Z", runs: ["2026-12-31T22:00:00Z"]),
        Case(phrase: "yearly on Dec 25th", expected: yearly(months: [12], days: [25]), zone: "Europe/Berlin",
             now: "2026-01-01T00:00:00Z", runs: ["2026-12-25T08:00:00Z"]),
        Case(phrase: "every 15th of March", expected: yearly(months: [3], days: [15]), zone: "UTC",
             now: "2026-01-01T00:00:00Z", runs: ["2026-03-15T09:00:00Z"]),
        // February 29 runs in leap years only.
        Case(phrase: "every February 29th at noon", expected: yearly(months: [2], days: [29], "12:00"), zone: "UTC",
             now: "2026-01-01T00:00:00Z", runs: ["2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z"]),
        Case(phrase: "yearly", expected: yearly(months: [1], days: [1]), zone: "UTC", now: "2026-01-01T09:00:00Z",
             runs: ["2027-01-01T09:00:00Z"]),
        Case(phrase: "the first Monday of September every year", expected: yearly(months: [9], weeks: [1], weekdays: [1]),
             zone: "UTC", now: "2026-01-01T00:00:00Z", runs: ["2026-09-07T09:00:00Z", "2027-09-06T09:00:00Z"]),
    ]

    @Test(arguments: cases)
    func phrasingParsesAndRunsWhenExpected(_ example: Case) throws {
        let info = try ScheduleParser.parse(example.phrase)
        #expect(info == example.expected)
        let zone = try #require(TimeZone(identifier: example.zone))
        let now = try instant(example.now)
        // As the server stores it: anchored once at set-up, then asked for one slot after another.
        let stored = info.anchored(after: now, in: zone)
        #expect(stored.anchorDate == example.anchor)
        var runs: [String] = []
        var cursor = now
        for _ in example.runs {
            guard let next = stored.nextRun(after: cursor, in: zone) else { break }
            runs.append(iso(next))
            cursor = next
        }
        #expect(runs == example.runs)
    }

    @Test func tableIsLargeEnough() {
        #expect(Self.cases.count >= 45)
    }

    // MARK: Intervals and anchors

    @Test func aStoredAnchorFixesThePhaseWhereverItLies() throws {
        let after = try instant("2026-01-10T00:00:00Z")  // a Saturday
        let utcZone = try #require(TimeZone(identifier: "UTC"))
        // Tuesdays two weeks apart through Jan 6 and Jan 20; anchors before, on and after them agree.
        for anchor in ["2025-12-23", "2026-01-06", "2026-02-03"] {
            let info = ScheduleInfo(scheduleType: .weekly, scheduleTime: "09:00", daysOfWeek: [2], interval: 2,
                                    anchorDate: anchor)
            #expect(info.nextRun(after: after, in: utcZone).map(iso) == "2026-01-20T09:00:00Z", "anchor \(anchor)")
        }
        // The other phase.
        let odd = ScheduleInfo(scheduleType: .weekly, scheduleTime: "09:00", daysOfWeek: [2], interval: 2,
                               anchorDate: "2025-12-30")
        #expect(odd.nextRun(after: after, in: utcZone).map(iso) == "2026-01-13T09:00:00Z")
        // Without an anchor the first slot after the date is its own anchor.
        let unanchored = ScheduleInfo(scheduleType: .weekly, scheduleTime: "09:00", daysOfWeek: [2], interval: 2)
        #expect(unanchored.nextRun(after: after, in: utcZone).map(iso) == "2026-01-13T09:00:00Z")
    }

    @Test func anchoringLeavesPlainSchedulesAlone() throws {
        let info = try ScheduleParser.parse("every Monday at 9am")
        let zone = try #require(TimeZone(identifier: "Europe/Berlin"))
        #expect(info.anchored(after: try instant("2026-01-01T00:00:00Z"), in: zone) == info)
    }

    // MARK: Rejections

    static let junk: [(String, String)] = [
        ("", "empty"),
        ("   ", "empty"),
        ("sometimes", "sometimes"),
        ("every blue moon", "every blue"),
        ("at 25:00", "25:00"),
        ("every Monday at 9:75", "9:75"),
        ("13pm", "13pm"),
        ("every day at 0am", "0am"),
        ("every day at 24:00", "24:00"),
        ("every day at 9:5", "9:5"),
        ("February 30th every year", "February 30"),
        ("every April 31st", "April 31"),
        ("every 0 weeks", "at least 1"),
        ("every 100 weeks", "at most 53"),
        ("the 32nd of every month", "32nd"),
        ("22th of every month", "22th"),
        ("every Funday", "every funday"),
        ("at 9am", "how often"),
        ("9am", "how often"),
        ("Monday at 9", "how often"),
        ("every Monday at 9am unless it rains", "unless it rains"),
        ("every Monday at 9am and 5pm", "and 5pm"),
        ("daily at 9am at 10am", "more than one time"),
        ("every Monday 9", "9"),
        ("every day on Mondays", "daily schedule"),
        ("every second Tuesday", "ambiguous"),
        ("every 5 hours", "divide"),
        ("every hour at 9:15", "minute past the hour"),
        ("daily at :15", "hourly"),
        ("monthly on Mondays", "which Monday"),
        ("sixth Monday of every month", "6th Monday"),
        ("every year on the 15th", "needs a month"),
        ("every week on the 15th", "weekdays only"),
        ("weekly monthly", "two different periods"),
        ("last of every month", "last what"),
        ("every Monday at", "no time of day"),
        ("every 15 minutes", "at most once an hour"),
        ("every 24 hours", "daily"),
        ("every day at 9am!", "!"),
    ]

    @Test(arguments: junk)
    func junkAndImpossibleSchedulesAreRejected(_ phrase: String, _ reasonPart: String) {
        do {
            let info = try ScheduleParser.parse(phrase)
            Issue.record("\"\(phrase)\" parsed as \(info.summary)")
        } catch {
            #expect(error.input == phrase)
            #expect(error.reason.localizedCaseInsensitiveContains(reasonPart), "\(error.reason)")
            #expect(error.description.contains("Accepted forms"))
            #expect(error.description.contains("every Monday at 9am"))
            #expect(error.description.contains(error.reason))
        }
    }

    @Test func theErrorReadsAsDocumented() {
        #expect(throws: ScheduleParseError.self) { try ScheduleParser.parse("at 25:00") }
        let error = ScheduleParseError(input: "at 25:00", reason: "no time")
        #expect(error.description.hasPrefix("could not understand the schedule \"at 25:00\": no time. Accepted forms: "
            + "every Monday at 9am; daily at 2:30 PM; "))
    }

    // MARK: Case and spacing

    static let variants: [(String, String)] = [
        ("every monday at 9am", "EVERY MONDAY AT 9AM"),
        ("every monday at 9am", "  Every   Monday ,  at  9 am. "),
        ("every monday at 9am", "every Monday at 9 a.m."),
        ("daily at 2:30 pm", "Daily At 2:30PM."),
        ("every mon, wed and fri at 10am", "Every Mon,Wed,and Fri at 10 AM"),
        ("15th of every month at 10:00", "15TH OF EVERY MONTH AT 10:00"),
        ("first monday of every month", "First  Monday  of  every  Month."),
        ("every march 15th at 2 pm", "every March 15 th at 2 P.M."),
        ("every hour at :15", "Every Hour At :15"),
    ]

    @Test(arguments: variants)
    func caseAndSpacingDoNotMatter(_ plain: String, _ variant: String) throws {
        #expect(try ScheduleParser.parse(variant) == ScheduleParser.parse(plain))
    }

    // MARK: JSON and summary

    @Test func jsonUsesSnakeCaseKeys() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let anchored = ScheduleInfo(scheduleType: .weekly, scheduleTime: "09:00", daysOfWeek: [2], interval: 2,
                                    anchorDate: "2026-01-06")
        #expect(String(decoding: try encoder.encode(anchored), as: UTF8.self)
            == #"{"anchor_date":"2026-01-06","days_of_month":[],"days_of_week":[2],"interval":2,"months_of_year":[],"#
            + #""schedule_time":"09:00","schedule_type":"weekly","weeks_of_month":[]}"#)
        let plain = ScheduleInfo(scheduleType: .monthly, scheduleTime: "10:00", daysOfMonth: [-1])
        #expect(String(decoding: try encoder.encode(plain), as: UTF8.self)
            == #"{"days_of_month":[-1],"days_of_week":[],"interval":1,"months_of_year":[],"schedule_time":"10:00","#
            + #""schedule_type":"monthly","weeks_of_month":[]}"#)
        for info in [anchored, plain] {
            #expect(try JSONDecoder().decode(ScheduleInfo.self, from: encoder.encode(info)) == info)
        }
        let minimal = Data(#"{"schedule_type":"daily","schedule_time":"08:00"}"#.utf8)
        #expect(try JSONDecoder().decode(ScheduleInfo.self, from: minimal)
            == ScheduleInfo(scheduleType: .daily, scheduleTime: "08:00"))
    }

    static let summaries: [(String, String)] = [
        ("every Monday at 9am", "every Monday at 09:00"),
        ("every Mon, Wed and Fri at 10am", "every Monday, Wednesday and Friday at 10:00"),
        ("every 2 weeks on Tuesday", "every 2 weeks on Tuesday at 09:00"),
        ("daily at 2:30 PM", "every day at 14:30"),
        ("every hour at :15", "every hour at :15"),
        ("15th of every month at 10:00", "on the 15th of every month at 10:00"),
        ("last Friday of every month", "on the last Friday of every month at 09:00"),
        ("first Monday of every month", "on the first Monday of every month at 09:00"),
        ("every March 15th at 2 PM", "on the 15th of March every year at 14:00"),
    ]

    @Test(arguments: summaries)
    func summaryIsShortEnglish(_ phrase: String, _ summary: String) throws {
        #expect(try ScheduleParser.parse(phrase).summary == summary)
    }

    @Test func malformedStoredSchedulesHaveNoNextRun() throws {
        let zone = try #require(TimeZone(identifier: "UTC"))
        let now = try instant("2026-01-01T00:00:00Z")
        for info in [
            ScheduleInfo(scheduleType: .daily, scheduleTime: "25:00"),
            ScheduleInfo(scheduleType: .weekly, scheduleTime: "09:00", daysOfWeek: [8]),
            ScheduleInfo(scheduleType: .daily, scheduleTime: "09:00", interval: 0),
            ScheduleInfo(scheduleType: .yearly, scheduleTime: "09:00", daysOfMonth: [30], monthsOfYear: [2]),
        ] {
            #expect(info.nextRun(after: now, in: zone) == nil, "\(info)")
        }
    }
}

// MARK: - Helpers

private func weekly(_ days: [Int], _ time: String = "09:00", every interval: Int = 1) -> ScheduleInfo {
    ScheduleInfo(scheduleType: .weekly, scheduleTime: time, daysOfWeek: days, interval: interval)
}

private func daily(_ time: String, every interval: Int = 1) -> ScheduleInfo {
    ScheduleInfo(scheduleType: .daily, scheduleTime: time, interval: interval)
}

private func hourly(minute: String, weekdays: [Int] = [], every interval: Int = 1) -> ScheduleInfo {
    ScheduleInfo(scheduleType: .hourly, scheduleTime: "00:\(minute)", daysOfWeek: weekdays, interval: interval)
}

private func monthly(days: [Int], _ time: String = "09:00", every interval: Int = 1) -> ScheduleInfo {
    ScheduleInfo(scheduleType: .monthly, scheduleTime: time, daysOfMonth: days, interval: interval)
}

private func monthly(weeks: [Int], weekdays: [Int], _ time: String = "09:00") -> ScheduleInfo {
    ScheduleInfo(scheduleType: .monthly, scheduleTime: time, daysOfWeek: weekdays, weeksOfMonth: weeks)
}

private func yearly(months: [Int], days: [Int], _ time: String = "09:00") -> ScheduleInfo {
    ScheduleInfo(scheduleType: .yearly, scheduleTime: time, daysOfMonth: days, monthsOfYear: months)
}

private func yearly(months: [Int], weeks: [Int], weekdays: [Int], _ time: String = "09:00") -> ScheduleInfo {
    ScheduleInfo(scheduleType: .yearly, scheduleTime: time, daysOfWeek: weekdays, weeksOfMonth: weeks, monthsOfYear: months)
}

private func instant(_ text: String) throws -> Date {
    try Date.ISO8601FormatStyle().parse(text)
}

private func iso(_ date: Date) -> String {
    date.formatted(Date.ISO8601FormatStyle())
}
