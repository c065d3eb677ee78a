import Foundation

/// Gemini CLI (`gemini -p … -o stream-json`).
extension AgentStreamParser {
    mutating func parseGemini(_ value: JSONValue, type: String?, at timestamp: Date) -> [AgentEvent] {
        switch type {
        case "init":
            return [initEvent(value, at: timestamp)]
        case "message":
            switch value["role"]?.stringValue {
            case "user":
                return []
            case "assistant", "model":
                // Deltas stay separate events, each with its own piece; the result joins them.
                let text = Self.text(of: value["content"]) ?? ""
                appendAssistantText(text)
                return [AgentEvent(type: .agentMessage, timestamp: timestamp, message: text)]
            case let role:
                return unknown("message/\(role ?? "unknown")", at: timestamp)
            }
        case "tool_use":
            let name = value["tool_name"]?.stringValue ?? "unknown"
            let call = ToolCall.gemini(name: name, parameters: value["parameters"])
            let id = value["tool_id"]?.stringValue
            if let id { toolNames[id] = (call.name, call.rawName) }
            return [AgentEvent(type: .toolUse, timestamp: timestamp, tool: call.name, toolCallId: id,
                               parameters: call.parameters, rawTool: call.rawName)]
        case "tool_result":
            return [geminiToolResult(value, at: timestamp)]
        case "error":
            let message = value["message"]?.stringValue ?? value["error"]?["message"]?.stringValue
            if let message { lastErrorMessage = message }
            return [AgentEvent(type: .error, timestamp: timestamp, message: message,
                               subtype: value["severity"]?.stringValue)]
        case "result":
            return [geminiResult(value, at: timestamp)]
        default:
            return unknown(type, at: timestamp)
        }
    }

    private mutating func geminiToolResult(_ value: JSONValue, at timestamp: Date) -> AgentEvent {
        let id = value["tool_id"]?.stringValue
        let tool = id.flatMap { toolNames.removeValue(forKey: $0) }
        let rawStatus = value["status"]?.stringValue
        let status: AgentEvent.Status
        switch rawStatus {
        case "success": status = .success
        case "cancelled", "canceled", "rejected", "denied": status = .rejected
        default: status = .error
        }
        let error = value["error"]
        return AgentEvent(
            type: .toolResult, timestamp: timestamp,
            message: status == .success ? nil : (error?["message"]?.stringValue ?? error?.stringValue ?? rawStatus),
            tool: tool?.name, toolCallId: id, status: status, output: value["output"], isError: status != .success,
            subtype: error?["type"]?.stringValue, rawTool: tool?.raw)
    }

    private mutating func geminiResult(_ value: JSONValue, at timestamp: Date) -> AgentEvent {
        let status = value["status"]?.stringValue
        let isError = status.map { $0 != "success" } ?? (value["error"] != nil)
        let error = value["error"]
        let joined = assistantText.isEmpty ? nil : assistantText
        // Gemini's result has no text of its own: the answer is the assistant deltas joined.
        resultText = value["response"]?.stringValue ?? joined
        let errorText = error?["message"]?.stringValue ?? error?.stringValue
        let stats = value["stats"]
        return resultEvent(
            value, at: timestamp, isError: isError, message: isError ? (errorText ?? joined) : resultText,
            errorText: errorText ?? lastErrorMessage, subtype: error?["type"]?.stringValue ?? status,
            durationMs: stats?["duration_ms"]?.intValue ?? value["duration_ms"]?.intValue, usage: stats)
    }
}
