import Agents
import Foundation

/// One event of a run's stream (`POST /api/knap-tools/run`), in the order they happen: `run_started` first,
/// `done` last. Tool events come from the agent's own tool calls in its sandbox.
public enum KnapRunEvent: Sendable, Equatable {
    case runStarted(runId: String, chatId: String, jobId: String)
    case toolExecution(toolName: String, queryUuid: String, parameters: JSONValue?)
    case toolResult(toolName: String, queryUuid: String, result: JSONValue?, status: String?)
    case message(content: String)
    case error(detail: String)
    case done(status: String, chatId: String, runId: String, jobId: String)

    /// The SSE `event:` name, also sent as `type` in the data.
    public var name: String {
        switch self {
        case .runStarted: "run_started"
        case .toolExecution: "tool_execution"
        case .toolResult: "tool_result"
        case .message: "message"
        case .error: "error"
        case .done: "done"
        }
    }

    /// The event's JSON object (with `type`), nulls kept so each event has one shape.
    public var json: JSONValue {
        var fields: [String: JSONValue] = ["type": .string(name)]
        switch self {
        case .runStarted(let runId, let chatId, let jobId):
            fields["run_id"] = .string(runId)
            fields["chat_id"] = .string(chatId)
            fields["job_id"] = .string(jobId)
        case .toolExecution(let toolName, let queryUuid, let parameters):
            fields["tool_name"] = .string(toolName)
            fields["status"] = "running"
            fields["queryUuid"] = .string(queryUuid)
            fields["parameters"] = parameters ?? .null
        case .toolResult(let toolName, let queryUuid, let result, let status):
            fields["tool_name"] = .string(toolName)
            fields["queryUuid"] = .string(queryUuid)
            fields["result"] = result ?? .null
            fields["status"] = status.map(JSONValue.string) ?? .null
        case .message(let content):
            fields["content"] = .string(content)
        case .error(let detail):
            fields["detail"] = .string(detail)
        case .done(let status, let chatId, let runId, let jobId):
            fields["status"] = .string(status)
            fields["chat_id"] = .string(chatId)
            fields["run_id"] = .string(runId)
            fields["job_id"] = .string(jobId)
        }
        return .object(fields)
    }
}

/// A whole run in one reply, for `stream_updates: false`.
public struct KnapRunSummary: Sendable, Equatable {
    public var runId: String
    public var chatId: String
    public var jobId: String
    public var status: String
    public var messages: [String]
    /// Each tool call with its result: `{tool_name, queryUuid, parameters, result, status}`.
    public var toolCalls: [JSONValue]
    public var error: String?

    public var json: JSONValue {
        .object([
            "run_id": .string(runId), "chat_id": .string(chatId), "job_id": .string(jobId), "status": .string(status),
            "messages": .array(messages.map { .object(["role": "assistant", "content": .string($0)]) }),
            "tool_calls": .array(toolCalls), "error": error.map(JSONValue.string) ?? .null,
        ])
    }
}
