import Foundation

/// One event of an agent's turn in the shape `GET /jobs/{id}/cursor` returns, whichever CLI produced it.
///
/// Optional fields are left out of the JSON when nil. `raw` (the CLI's original line, secrets redacted) is not part
/// of the normalized JSON; it is kept for `?raw=true`.
public struct AgentEvent: Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case agentMessage = "agent_message"
        case thinking
        case toolUse = "tool_use"
        case toolResult = "tool_result"
        case result
        case error
        case system
    }

    /// Outcome of a tool call (`success`, `error`, `rejected`) or of the whole turn (`success`, `error`).
    public enum Status: String, Codable, Sendable, CaseIterable {
        case success
        case error
        case rejected
    }

    public var type: Kind
    public var timestamp: Date
    public var message: String?
    /// Normalized tool name (`write_file`, `run_shell_command`, …), or the CLI's own when there is no equivalent.
    public var tool: String?
    public var toolCallId: String?
    public var parameters: JSONValue?
    public var status: Status?
    public var output: JSONValue?
    public var isError: Bool?
    public var sessionId: String?
    public var subtype: String?
    public var model: String?
    public var durationMs: Int?
    public var usage: JSONValue?
    /// The CLI's own tool name, set only when it differs from `tool`.
    public var rawTool: String?
    /// The original line. Not encoded: the normalized JSON never carries it.
    public var raw: String

    public init(
        type: Kind, timestamp: Date, message: String? = nil, tool: String? = nil, toolCallId: String? = nil,
        parameters: JSONValue? = nil, status: Status? = nil, output: JSONValue? = nil, isError: Bool? = nil,
        sessionId: String? = nil, subtype: String? = nil, model: String? = nil, durationMs: Int? = nil,
        usage: JSONValue? = nil, rawTool: String? = nil, raw: String = ""
    ) {
        self.type = type
        self.timestamp = timestamp
        self.message = message
        self.tool = tool
        self.toolCallId = toolCallId
        self.parameters = parameters
        self.status = status
        self.output = output
        self.isError = isError
        self.sessionId = sessionId
        self.subtype = subtype
        self.model = model
        self.durationMs = durationMs
        self.usage = usage
        self.rawTool = rawTool
        self.raw = raw
    }
}

extension AgentEvent: Codable {
    enum CodingKeys: String, CodingKey {
        case type, timestamp, message, tool
        case toolCallId = "tool_call_id"
        case parameters, status, output
        case isError = "is_error"
        case sessionId = "session_id"
        case subtype, model
        case durationMs = "duration_ms"
        case usage
        case rawTool = "raw_tool"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(Kind.self, forKey: .type)
        let stamp = try container.decode(String.self, forKey: .timestamp)
        guard let date = AgentTimestamp.parse(stamp) else {
            throw DecodingError.dataCorruptedError(
                forKey: .timestamp, in: container, debugDescription: "not an ISO-8601 timestamp: \(stamp)")
        }
        timestamp = date
        message = try container.decodeIfPresent(String.self, forKey: .message)
        tool = try container.decodeIfPresent(String.self, forKey: .tool)
        toolCallId = try container.decodeIfPresent(String.self, forKey: .toolCallId)
        parameters = try container.decodeIfPresent(JSONValue.self, forKey: .parameters)
        status = try container.decodeIfPresent(Status.self, forKey: .status)
        output = try container.decodeIfPresent(JSONValue.self, forKey: .output)
        isError = try container.decodeIfPresent(Bool.self, forKey: .isError)
        sessionId = try container.decodeIfPresent(String.self, forKey: .sessionId)
        subtype = try container.decodeIfPresent(String.self, forKey: .subtype)
        model = try container.decodeIfPresent(String.self, forKey: .model)
        durationMs = try container.decodeIfPresent(Int.self, forKey: .durationMs)
        usage = try container.decodeIfPresent(JSONValue.self, forKey: .usage)
        rawTool = try container.decodeIfPresent(String.self, forKey: .rawTool)
        raw = ""
    }

    /// Writes the timestamp as ISO-8601 text itself, so the shape does not depend on the encoder's date strategy.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encode(AgentTimestamp.format(timestamp), forKey: .timestamp)
        try container.encodeIfPresent(message, forKey: .message)
        try container.encodeIfPresent(tool, forKey: .tool)
        try container.encodeIfPresent(toolCallId, forKey: .toolCallId)
        try container.encodeIfPresent(parameters, forKey: .parameters)
        try container.encodeIfPresent(status, forKey: .status)
        try container.encodeIfPresent(output, forKey: .output)
        try container.encodeIfPresent(isError, forKey: .isError)
        try container.encodeIfPresent(sessionId, forKey: .sessionId)
        try container.encodeIfPresent(subtype, forKey: .subtype)
        try container.encodeIfPresent(model, forKey: .model)
        try container.encodeIfPresent(durationMs, forKey: .durationMs)
        try container.encodeIfPresent(usage, forKey: .usage)
        try container.encodeIfPresent(rawTool, forKey: .rawTool)
    }
}

extension AgentEvent {
    /// The event with `redact` applied to every string it carries (raw line included).
    func mapStrings(_ redact: (String) -> String) -> AgentEvent {
        var copy = self
        copy.message = message.map(redact)
        copy.tool = tool.map(redact)
        copy.toolCallId = toolCallId.map(redact)
        copy.parameters = parameters?.mapStrings(redact)
        copy.output = output?.mapStrings(redact)
        copy.sessionId = sessionId.map(redact)
        copy.subtype = subtype.map(redact)
        copy.model = model.map(redact)
        copy.usage = usage?.mapStrings(redact)
        copy.rawTool = rawTool.map(redact)
        copy.raw = redact(raw)
        return copy
    }
}
