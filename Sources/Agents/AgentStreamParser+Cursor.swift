import Foundation

/// Cursor Agent CLI (`cursor-agent -p --output-format stream-json`).
extension AgentStreamParser {
    mutating func parseCursor(_ value: JSONValue, type: String?, at timestamp: Date) -> [AgentEvent] {
        let subtype = value["subtype"]?.stringValue
        switch type {
        case "system":
            return systemLine(value, at: timestamp)
        case "user":
            return []
        case "thinking":
            switch subtype {
            case "delta":
                let text = value["text"]?.stringValue ?? Self.text(of: value["delta"]) ?? ""
                return [AgentEvent(type: .thinking, timestamp: timestamp, message: text)]
            case "completed":
                return []
            default:
                return unknown("thinking/\(subtype ?? "")", at: timestamp)
            }
        case "assistant":
            let text = Self.text(of: value["message"]?["content"]) ?? ""
            appendAssistantText(text)
            return [AgentEvent(type: .agentMessage, timestamp: timestamp, message: text)]
        case "tool_call":
            return cursorToolCall(value, subtype: subtype, at: timestamp)
        case "result":
            let isError = value["is_error"]?.boolValue ?? (subtype.map { $0 != "success" } ?? false)
            let text = value["result"]?.stringValue
            resultText = text
            return [resultEvent(
                value, at: timestamp, isError: isError, message: text,
                errorText: text.flatMap { $0.isEmpty ? nil : $0 }, subtype: subtype,
                durationMs: value["duration_ms"]?.intValue, usage: value["usage"])]
        default:
            return unknown(type, at: timestamp)
        }
    }

    private mutating func cursorToolCall(_ value: JSONValue, subtype: String?, at timestamp: Date) -> [AgentEvent] {
        guard let (call, result) = value["tool_call"].flatMap(ToolCall.cursor) else {
            return unknown("tool_call/\(subtype ?? "")", at: timestamp)
        }
        let callId = value["call_id"]?.stringValue
        switch subtype {
        case "started":
            return [AgentEvent(type: .toolUse, timestamp: timestamp, tool: call.name, toolCallId: callId,
                               parameters: call.parameters, rawTool: call.rawName)]
        case "completed":
            var event = AgentEvent(type: .toolResult, timestamp: timestamp, tool: call.name, toolCallId: callId,
                                   rawTool: call.rawName)
            Self.applyCursorResult(result, to: &event)
            return [event]
        default:
            return unknown("tool_call/\(subtype ?? "")", at: timestamp)
        }
    }

    /// `result` is `{success: …}`, `{failure: …}` (also `{error: …}`) or `{rejected: {reason}}`; the payload
    /// becomes `output`, a failure or rejection its `message`.
    private static func applyCursorResult(_ result: JSONValue?, to event: inout AgentEvent) {
        guard let result else { return }
        if let payload = result["success"] {
            event.status = .success
            event.output = payload
        } else if let payload = result["failure"] ?? result["error"] {
            event.status = .error
            event.output = payload
            event.message = failureMessage(payload)
        } else if let payload = result["rejected"] {
            event.status = .rejected
            event.output = payload
            event.message = payload["reason"]?.stringValue ?? payload.stringValue ?? "rejected"
        } else {
            event.output = result
        }
        if let status = event.status { event.isError = status != .success }
    }

    private static func failureMessage(_ payload: JSONValue) -> String {
        if let text = payload.stringValue { return text }
        if let text = payload["message"]?.stringValue ?? payload["error"]?.stringValue
            ?? payload["error"]?["message"]?.stringValue {
            return text
        }
        if let code = payload["exitCode"]?.intValue {
            let detail = payload["stderr"]?.stringValue.flatMap(firstLine)
            return "exited with code \(code)" + (detail.map { ": \($0)" } ?? "")
        }
        return "tool call failed"
    }
}
