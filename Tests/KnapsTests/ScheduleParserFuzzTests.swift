import Foundation
import Knaps
import KnifyTestSupport
import Testing

/// Random phrases from the schedule grammar's own words: the parser either refuses with the accepted forms or gives
/// a schedule that is stable, survives its JSON, and whose next run lies ahead in every zone.
@Suite("Fuzz: schedule parser")
struct ScheduleParserFuzzTests {
    static let words = ["every", "day", "daily", "weekday", "weekdays", "weekend", "weekends", "monday", "tuesday",
                        "wednesday", "thursday", "friday", "saturday", "sunday", "mondays", "at", "on", "the", "of",
                        "and", ",", "9", "9am", "9:30", "09:30", "17:45", "5pm", "noon", "midnight", "am", "pm",
                        "1st", "2nd", "third", "15th", "31st", "last", "day", "month", "week", "weeks", "other",
                        "biweekly", "2", "3", "hour", "hours", "6", ":15", "minutes", "first", "second", "in",
                        "morning", "every other", "once", "monthly", "weekly", "hourly", "days", "25:00", "0"]
    static let zones = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney", "Pacific/Chatham"]

    @Test func randomPhrases() throws {
        var fuzz = Fuzz()
        var parsed = 0
        for _ in 0..<Fuzz.iterations {
            var phrase = (0..<fuzz.int(1...7)).map { _ in fuzz.pick(Self.words) }.joined(separator: " ")
            if fuzz.chance(0.1) { phrase = fuzz.text(0...30) }
            if fuzz.chance(0.1) { phrase = phrase.uppercased() }
            do {
                let info = try ScheduleParser.parse(phrase)
                parsed += 1
                #expect(try ScheduleParser.parse(phrase) == info, "\(phrase); \(fuzz.replay)")
                let json = try JSONEncoder().encode(info)
                #expect(try JSONDecoder().decode(ScheduleInfo.self, from: json) == info, "\(phrase); \(fuzz.replay)")
                let now = Date(timeIntervalSince1970: Double(fuzz.int(1_700_000_000...1_900_000_000)))
                let zone = try #require(TimeZone(identifier: fuzz.pick(Self.zones)))
                if let next = info.anchored(after: now, in: zone).nextRun(after: now, in: zone) {
                    #expect(next > now, "\(phrase) in \(zone.identifier) after \(now): \(next); \(fuzz.replay)")
                }
            } catch let error as ScheduleParseError {
                #expect(error.description.contains("Accepted forms"), "\(phrase): \(error); \(fuzz.replay)")
            }
        }
        #expect(parsed > 0, "no random phrase parsed: the properties of a parsed schedule were never reached")
    }
}
