import Foundation

extension AgentDriver {
    /// Why a turn failed, in one line for people; nil when it succeeded (exit 0 and a non-error result).
    ///
    /// In order: the error result's own text; the last meaningful stderr line (a CLI that refuses to start, such as
    /// cursor's "Cannot use this model: …", prints no result at all); the meaning of a documented exit code (gemini's,
    /// and the signal codes every CLI shares); "exited with code N". Secrets are redacted.
    public func failureReason(exitCode: Int, stderr: String, parser: AgentStreamParser) -> String? {
        if exitCode == 0, parser.resultIsError == false { return nil }
        let reason: String
        if parser.resultIsError == true, let message = parser.errorMessage, !message.isEmpty {
            reason = message
        } else if let line = Self.lastMeaningfulLine(of: stderr) {
            reason = line
        } else if let meaning = exitCodeMeaning(exitCode) {
            reason = meaning
        } else if exitCode == 0 {
            reason = "the agent exited without a result"
        } else {
            reason = "exited with code \(exitCode)"
        }
        return parser.redact(Self.oneLine(reason))
    }

    /// What an exit code says by itself: gemini documents its codes; 128+N is signal N for every CLI.
    public func exitCodeMeaning(_ exitCode: Int) -> String? {
        if dialect == .gemini {
            switch exitCode {
            case 41: return "authentication failed (exit code 41)"
            case 42: return "invalid input (exit code 42)"
            case 52: return "configuration error (exit code 52)"
            case 53: return "turn limit reached (exit code 53)"
            case 54: return "fatal tool error (exit code 54)"
            default: break
            }
        }
        switch exitCode {
        case 130: return "interrupted (exit code 130, SIGINT)"
        case 137: return "killed (exit code 137, SIGKILL: cancelled, timed out or out of memory)"
        case 143: return "terminated (exit code 143, SIGTERM)"
        default: return nil
        }
    }

    /// The last stderr line that says something: not blank, not a stack frame, not a bare warning.
    static func lastMeaningfulLine(of stderr: String) -> String? {
        let lines = stderr.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { line in
                !line.isEmpty && !line.hasPrefix("at ") && !line.lowercased().contains("warning:")
                    && line.contains(where: { $0.isLetter || $0.isNumber })
            }
        return lines.last
    }

    /// One line, at most 500 characters: reasons end up in job records and event lists.
    static func oneLine(_ text: String) -> String {
        let flat = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
        return flat.count > 500 ? String(flat.prefix(499)) + "…" : flat
    }
}
