import Foundation

extension ScheduleParser {
    enum Unit: String, Sendable { case hour, day, week, month, year }

    /// Weekday words and the ISO days they stand for; `plural` words ("Mondays", "weekdays") mean a recurrence on
    /// their own, singular ones ("Monday") need "every" or a period.
    static func weekdays(_ word: String) -> (days: [Int], plural: Bool)? {
        switch word {
        case "weekday": return ([1, 2, 3, 4, 5], false)
        case "weekdays": return ([1, 2, 3, 4, 5], true)
        case "weekend": return ([6, 7], false)
        case "weekends": return ([6, 7], true)
        default: break
        }
        if let day = weekdayAbbreviations[word] { return ([day], false) }
        for (index, name) in ScheduleInfo.weekdayNames.enumerated() {
            let name = name.lowercased()
            if word == name { return ([index + 1], false) }
            if word == name + "s" { return ([index + 1], true) }
        }
        return nil
    }

    static let weekdayAbbreviations: [String: Int] = [
        "mon": 1, "tue": 2, "tues": 2, "wed": 3, "weds": 3, "thu": 4, "thur": 4, "thurs": 4, "fri": 5, "sat": 6,
        "sun": 7,
    ]

    static func month(_ word: String) -> Int? {
        if let month = monthAbbreviations[word] { return month }
        return ScheduleInfo.monthNames.firstIndex { $0.lowercased() == word }.map { $0 + 1 }
    }

    static let monthAbbreviations: [String: Int] = [
        "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10,
        "nov": 11, "dec": 12,
    ]

    /// "every <unit>": the unit and how many of it one step is ("fortnight" is two weeks).
    static func unit(_ word: String) -> (unit: Unit, count: Int)? {
        switch word {
        case "hour", "hours": return (.hour, 1)
        case "day", "days": return (.day, 1)
        case "week", "weeks": return (.week, 1)
        case "fortnight", "fortnights": return (.week, 2)
        case "month", "months": return (.month, 1)
        case "year", "years": return (.year, 1)
        default: return nil
        }
    }

    /// Words that are a recurrence by themselves.
    static let adverbs: [String: (unit: Unit, interval: Int)] = [
        "hourly": (.hour, 1), "daily": (.day, 1), "everyday": (.day, 1), "weekly": (.week, 1),
        "biweekly": (.week, 2), "bi-weekly": (.week, 2), "fortnightly": (.week, 2), "monthly": (.month, 1),
        "yearly": (.year, 1), "annually": (.year, 1),
    ]

    static let cardinals: [String: Int] = [
        "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
        "eleven": 11, "twelve": 12,
    ]

    static let ordinals: [String: Int] = {
        let units = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"]
        let teens = ["tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
                     "seventeenth", "eighteenth", "nineteenth"]
        var table: [String: Int] = ["twentieth": 20, "thirtieth": 30]
        for (index, word) in units.enumerated() {
            table[word] = index + 1
            table["twenty-" + word] = 21 + index
            table["thirty-" + word] = 31 + index
        }
        for (index, word) in teens.enumerated() { table[word] = 10 + index }
        return table
    }()

    /// "twenty" and "thirty" start a two-word ordinal ("twenty first").
    static let ordinalTens: [String: Int] = ["twenty": 20, "thirty": 30]

    /// The suffix English gives `n`: 1st, 2nd, 3rd, 4th, 11th, 21st.
    static func ordinalSuffix(_ n: Int) -> String {
        if (11...13).contains(n % 100) { return "th" }
        switch n % 10 {
        case 1: return "st"
        case 2: return "nd"
        case 3: return "rd"
        default: return "th"
        }
    }

    static let ordinalSuffixes: Set<String> = ["st", "nd", "rd", "th"]
}
