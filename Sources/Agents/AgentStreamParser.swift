import Foundation

/// Turns one agent CLI's stream-json output, line by line, into normalized `AgentEvent`s.
///
/// Never fails: a line that is not a JSON object becomes a `system` event with subtype `unparsed`, an unknown event
/// type a `system` event whose subtype is that type; the original line is always kept in `raw`. Every string it
/// produces, the raw line included, has the secrets it was given replaced with `[REDACTED]`.
///
/// Prompt echoes (cursor `user` lines, gemini `message` with role `user`) produce no event: the prompt is already
/// in the job's spec, and the raw line stays in the CLI's own log.
public struct AgentStreamParser: Sendable {
    /// The stream-json dialects Knify speaks.
    public enum Dialect: String, Sendable, CaseIterable, Codable {
        case cursor
        case claude
        case gemini
    }

    public let dialect: Dialect
    public let redactor: SecretRedactor

    /// Caps the joined assistant text kept for `finalText`, so a flooding agent cannot grow memory without bound.
    public static let maxAssistantTextBytes = 1 << 20

    var capturedSessionId: String?
    var capturedModel: String?
    var assistantText = ""
    var resultText: String?
    var resultError: String?
    var lastErrorMessage: String?
    /// Tool names by call id, so a result that names only the id still says which tool it answers.
    var toolNames: [String: (name: String, raw: String?)] = [:]
    public private(set) var resultIsError: Bool?
    public private(set) var resultSubtype: String?
    /// Lines that were not JSON objects (or were cut by the line limit).
    public private(set) var unparsedLineCount = 0

    public init(dialect: Dialect, secrets: [String] = []) {
        self.dialect = dialect
        self.redactor = SecretRedactor(secrets: secrets)
    }

    /// The agent's session id, for `--resume`: from the `init` line, updated by the `result` line.
    public var sessionId: String? { capturedSessionId.map(redactor.redact) }

    /// The model the CLI reported in its `init` line (cursor reports a display name such as `Auto`).
    public var model: String? { capturedModel.map(redactor.redact) }

    /// The turn's answer: the result's own text when it has one, else the assistant messages joined.
    public var finalText: String? {
        if let resultText, !resultText.isEmpty { return redactor.redact(resultText) }
        return assistantText.isEmpty ? nil : redactor.redact(assistantText)
    }

    /// Why the turn failed, as the CLI put it: the error result's text, else the last `error` event's message.
    public var errorMessage: String? {
        (resultError ?? lastErrorMessage).map(redactor.redact)
    }

    /// `text` with the secrets replaced, for anything else that leaves the agent (stderr, reasons).
    public func redact(_ text: String) -> String {
        redactor.redact(text)
    }

    /// Parses one line (without its newline). `receivedAt` is the timestamp for lines that carry none.
    public mutating func parse(line: String, receivedAt: Date = Date()) -> [AgentEvent] {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return [] }
        guard let value = JSONValue.parse(trimmed), case .object = value else {
            unparsedLineCount += 1
            var event = AgentEvent(type: .system, timestamp: receivedAt, subtype: "unparsed",
                                   raw: redactor.redactRaw(line))
            if LineSplitter.isTruncated(line) {
                event.message = "line longer than the line limit, truncated"
            }
            return [event.mapStrings(redactor.redact)]
        }
        let timestamp = AgentTimestamp.from(value) ?? receivedAt
        if capturedSessionId == nil, let id = value["session_id"]?.stringValue, !id.isEmpty {
            capturedSessionId = id
        }
        let type = value["type"]?.stringValue
        var events: [AgentEvent]
        switch dialect {
        case .cursor: events = parseCursor(value, type: type, at: timestamp)
        case .claude: events = parseClaude(value, type: type, at: timestamp)
        case .gemini: events = parseGemini(value, type: type, at: timestamp)
        }
        let raw = redactedRaw(line, value: value)
        for index in events.indices {
            events[index].raw = raw
            if !redactor.isEmpty { events[index] = events[index].mapStrings(redactor.redact) }
        }
        return events
    }

    /// The raw line without secrets. When a secret hides in an escape the text search cannot see (`\u…`), the
    /// line is re-encoded from its redacted value instead: a changed layout beats a leak.
    private func redactedRaw(_ line: String, value: JSONValue) -> String {
        let raw = redactor.redactRaw(line)
        guard !redactor.isEmpty, redactor.occurs(in: value) else { return raw }
        let clean = value.mapStrings(redactor.redact)
        if JSONValue.parse(raw) == clean { return raw }
        return clean.jsonString()
    }
}

// MARK: - Shared event builders

extension AgentStreamParser {
    /// An event type this parser does not know: kept as `system` with the type as subtype.
    func unknown(_ subtype: String?, at timestamp: Date) -> [AgentEvent] {
        [AgentEvent(type: .system, timestamp: timestamp, subtype: subtype ?? "unknown")]
    }

    /// `system` lines (cursor and claude): `init` carries the session and model; other subtypes pass through.
    mutating func systemLine(_ value: JSONValue, at timestamp: Date) -> [AgentEvent] {
        let subtype = value["subtype"]?.stringValue
        guard subtype == "init" else {
            return [AgentEvent(type: .system, timestamp: timestamp, subtype: subtype ?? "system")]
        }
        return [initEvent(value, at: timestamp)]
    }

    mutating func initEvent(_ value: JSONValue, at timestamp: Date) -> AgentEvent {
        if let id = value["session_id"]?.stringValue, !id.isEmpty { capturedSessionId = id }
        if let model = value["model"]?.stringValue { capturedModel = model }
        return AgentEvent(type: .system, timestamp: timestamp, sessionId: value["session_id"]?.stringValue,
                          subtype: "init", model: value["model"]?.stringValue)
    }

    mutating func appendAssistantText(_ text: String, separator: String = "") {
        guard !text.isEmpty, assistantText.utf8.count < Self.maxAssistantTextBytes else { return }
        if !assistantText.isEmpty { assistantText += separator }
        assistantText += text
    }

    /// The `result` event all dialects end with; records the outcome for `finalText` and failure reasons.
    mutating func resultEvent(
        _ value: JSONValue, at timestamp: Date, isError: Bool, message: String?, errorText: String?,
        subtype: String?, durationMs: Int?, usage: JSONValue?
    ) -> AgentEvent {
        if let id = value["session_id"]?.stringValue, !id.isEmpty { capturedSessionId = id }
        resultIsError = isError
        resultSubtype = subtype
        resultError = isError ? (errorText ?? subtype ?? "the agent reported an error") : nil
        return AgentEvent(
            type: .result, timestamp: timestamp, message: message, status: isError ? .error : .success,
            isError: isError, sessionId: value["session_id"]?.stringValue ?? capturedSessionId, subtype: subtype,
            model: value["model"]?.stringValue, durationMs: durationMs, usage: usage)
    }

    /// Text parts of a message's `content` (a string, or an array of `{type: text, text}` parts), joined.
    static func text(of content: JSONValue?) -> String? {
        switch content {
        case .string(let text)?:
            return text
        case .array(let parts)?:
            let texts = parts.compactMap { part -> String? in
                if let text = part.stringValue { return text }
                guard part["type"]?.stringValue ?? "text" == "text" else { return nil }
                return part["text"]?.stringValue
            }
            return texts.isEmpty ? nil : texts.joined()
        default:
            return nil
        }
    }

    /// The first non-empty line of `text`, for one-line messages out of multi-line outputs.
    static func firstLine(_ text: String) -> String? {
        text.split(whereSeparator: \.isNewline).lazy
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .first { !$0.isEmpty }
    }
}
