import Foundation

extension ScheduleParser {
    struct Token: Equatable, Sendable {
        enum Kind: Equatable, Sendable {
            /// Letters, with inner apostrophes and hyphens: "o'clock", "twenty-first".
            case word
            /// ASCII digits: "9", "15".
            case number
            /// "9:30", "14.30".
            case clock
            /// ":15", a minute past the hour.
            case minute
            /// Any other character, which no rule accepts.
            case symbol
        }

        let kind: Kind
        let text: String
    }

    /// Lower-cased tokens. Commas, semicolons and periods only separate (so "Mon, Wed" is a list and a trailing
    /// period is harmless); digits and letters are split apart, so "9am" reads as "9 am" and "15th" as "15 th".
    static func tokenize(_ description: String) -> [Token] {
        var text = description.lowercased()
        for (from, to) in [("a.m.", "am"), ("p.m.", "pm"), ("a.m", "am"), ("p.m", "pm"), ("’", "'"), ("‘", "'"),
                           ("&", " and ")] {
            text = text.replacingOccurrences(of: from, with: to)
        }
        let characters = Array(text)
        var tokens: [Token] = []
        var index = 0
        func isDigit(_ offset: Int) -> Bool {
            offset < characters.count && characters[offset].isASCII && characters[offset].isNumber
        }
        func isLetter(_ offset: Int) -> Bool { offset < characters.count && characters[offset].isLetter }
        func digits(from start: Int) -> Int {
            var end = start
            while isDigit(end) { end += 1 }
            return end
        }
        while index < characters.count {
            let character = characters[index]
            if character.isWhitespace || character == "," || character == ";" || character == "." {
                index += 1
            } else if isDigit(index) {
                var end = digits(from: index)
                var kind = Token.Kind.number
                if end < characters.count, characters[end] == ":" || characters[end] == ".", isDigit(end + 1) {
                    end = digits(from: end + 1)
                    kind = .clock
                }
                tokens.append(Token(kind: kind, text: String(characters[index..<end])))
                index = end
            } else if character == ":" && isDigit(index + 1) {
                let end = digits(from: index + 1)
                tokens.append(Token(kind: .minute, text: String(characters[index..<end])))
                index = end
            } else if isLetter(index) {
                var end = index + 1
                func joinsLetters(_ offset: Int) -> Bool {
                    offset < characters.count && (characters[offset] == "'" || characters[offset] == "-")
                        && isLetter(offset + 1)
                }
                while isLetter(end) || joinsLetters(end) {
                    end += 1
                }
                tokens.append(Token(kind: .word, text: String(characters[index..<end])))
                index = end
            } else {
                tokens.append(Token(kind: .symbol, text: String(character)))
                index += 1
            }
        }
        return tokens
    }
}
