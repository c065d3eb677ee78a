import Foundation

/// Claude Code (`claude -p --output-format stream-json --verbose`).
extension AgentStreamParser {
    mutating func parseClaude(_ value: JSONValue, type: String?, at timestamp: Date) -> [AgentEvent] {
        switch type {
        case "system":
            return systemLine(value, at: timestamp)
        case "assistant":
            return (value["message"]?["content"]?.arrayValue ?? []).flatMap { claudeAssistantPart($0, at: timestamp) }
        case "user":
            // Prompt echoes produce nothing; tool results answer earlier tool_use parts.
            return (value["message"]?["content"]?.arrayValue ?? []).compactMap { claudeToolResult($0, at: timestamp) }
        case "result":
            return [claudeResult(value, at: timestamp)]
        default:
            return unknown(type, at: timestamp)
        }
    }

    private mutating func claudeAssistantPart(_ part: JSONValue, at timestamp: Date) -> [AgentEvent] {
        let partType = part["type"]?.stringValue
        switch partType {
        case "text":
            let text = part["text"]?.stringValue ?? ""
            appendAssistantText(text, separator: "\n")
            return [AgentEvent(type: .agentMessage, timestamp: timestamp, message: text)]
        case "thinking":
            return [AgentEvent(type: .thinking, timestamp: timestamp,
                               message: part["thinking"]?.stringValue ?? part["text"]?.stringValue)]
        case "redacted_thinking":
            return [AgentEvent(type: .thinking, timestamp: timestamp, subtype: "redacted")]
        case "tool_use", "server_tool_use":
            let name = part["name"]?.stringValue ?? "unknown"
            let call = ToolCall.claude(name: name, input: part["input"])
            let id = part["id"]?.stringValue
            if let id { toolNames[id] = (call.name, call.rawName) }
            return [AgentEvent(type: .toolUse, timestamp: timestamp, tool: call.name, toolCallId: id,
                               parameters: call.parameters, rawTool: call.rawName)]
        default:
            return unknown("assistant/\(partType ?? "unknown")", at: timestamp)
        }
    }

    private mutating func claudeToolResult(_ part: JSONValue, at timestamp: Date) -> AgentEvent? {
        guard part["type"]?.stringValue == "tool_result" else { return nil }
        let id = part["tool_use_id"]?.stringValue
        let tool = id.flatMap { toolNames.removeValue(forKey: $0) }
        let isError = part["is_error"]?.boolValue ?? false
        let text = Self.text(of: part["content"])
        var status: AgentEvent.Status = isError ? .error : .success
        // Outside bypassPermissions Claude answers a tool it may not use with this error text.
        if isError, let text, text.contains("requested permissions"), text.contains("haven't granted") {
            status = .rejected
        }
        return AgentEvent(
            type: .toolResult, timestamp: timestamp, message: isError ? text : nil, tool: tool?.name,
            toolCallId: id, status: status, output: part["content"], isError: isError, rawTool: tool?.raw)
    }

    private mutating func claudeResult(_ value: JSONValue, at timestamp: Date) -> AgentEvent {
        let subtype = value["subtype"]?.stringValue
        let isError = value["is_error"]?.boolValue ?? (subtype.map { $0 != "success" } ?? false)
        let text = value["result"]?.stringValue
        resultText = text
        var message = text
        if isError, text?.isEmpty ?? true {
            message = Self.claudeErrorText(value, subtype: subtype)
        }
        return resultEvent(value, at: timestamp, isError: isError, message: message, errorText: message,
                           subtype: subtype, durationMs: value["duration_ms"]?.intValue, usage: value["usage"])
    }

    /// A human reason for an error result that carries no `result` text (max turns has none).
    private static func claudeErrorText(_ value: JSONValue, subtype: String?) -> String {
        let errors = (value["errors"]?.arrayValue ?? []).map(\.displayText).filter { !$0.isEmpty }
        if !errors.isEmpty { return errors.joined(separator: "; ") }
        switch subtype {
        case "error_max_turns":
            let turns = value["num_turns"]?.intValue.map { " (\($0))" } ?? ""
            return "reached the maximum number of turns\(turns)"
        case "error_during_execution":
            return "error during execution"
        case let other?:
            return other
        case nil:
            return "the agent reported an error"
        }
    }
}
