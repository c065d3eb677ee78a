import Foundation

/// A tool call under Knify's names: the same tool reads the same whichever CLI called it.
struct ToolCall: Equatable {
    var name: String
    var parameters: JSONValue
    /// The CLI's own name, when it differs from `name`.
    var rawName: String?

    init(name: String, parameters: JSONValue, rawName: String? = nil) {
        self.name = name
        self.parameters = parameters
        self.rawName = rawName == name ? nil : rawName
    }
}

/// Knify's normalized tool names.
enum ToolName {
    static let writeFile = "write_file"
    static let readFile = "read_file"
    static let editFile = "edit_file"
    static let deleteFile = "delete_file"
    static let runShellCommand = "run_shell_command"
    static let glob = "glob"
    static let grep = "grep"
    static let listDirectory = "list_directory"
}

extension ToolCall {
    /// Cursor: `{"<kind>ToolCall": {args, result?}}` or `{"function": {name, arguments}}`; also returns the
    /// `result` payload a completed call carries.
    static func cursor(_ toolCall: JSONValue) -> (call: ToolCall, result: JSONValue?)? {
        guard let members = toolCall.objectValue, !members.isEmpty else { return nil }
        if let function = members["function"] {
            let name = function["name"]?.stringValue ?? "function"
            return (ToolCall(name: name, parameters: decodedArguments(function["arguments"])), function["result"])
        }
        // One key names the kind; prefer a `…ToolCall` key if the CLI ever adds siblings.
        guard let key = members.keys.sorted().first(where: { $0.hasSuffix("ToolCall") }) ?? members.keys.sorted().first,
              let body = members[key] else { return nil }
        var args = body["args"]?.objectValue ?? [:]
        args["toolCallId"] = nil  // duplicates the event's call_id
        let name: String
        switch key {
        case "writeToolCall":
            name = ToolName.writeFile
            rename(&args, "fileText", to: "content")
        case "readToolCall":
            name = ToolName.readFile
        case "editToolCall":
            name = ToolName.editFile
        case "deleteToolCall":
            name = ToolName.deleteFile
        case "shellToolCall":
            name = ToolName.runShellCommand
            rename(&args, "workingDirectory", to: "working_directory")
        case "globToolCall":
            name = ToolName.glob
            rename(&args, "globPattern", to: "pattern")
            rename(&args, "targetDirectory", to: "path")
        case "grepToolCall":
            name = ToolName.grep
        case "lsToolCall":
            name = ToolName.listDirectory
            rename(&args, "targetDirectory", to: "path")
        case "mcpToolCall":
            // MCP keeps the server's tool name; its own arguments are the parameters.
            let mcpName = args["toolName"]?.stringValue ?? args["name"]?.stringValue ?? key
            let parameters = args["args"].map { decodedArguments($0) } ?? .object(args)
            return (ToolCall(name: mcpName, parameters: parameters, rawName: key), body["result"])
        default:
            name = key
        }
        return (ToolCall(name: name, parameters: .object(args), rawName: key), body["result"])
    }

    /// Claude Code: `tool_use{name, input}` with its capitalized tool names.
    static func claude(name: String, input: JSONValue?) -> ToolCall {
        var args = input?.objectValue ?? [:]
        let normalized: String
        switch name {
        case "Write": normalized = ToolName.writeFile
        case "Read": normalized = ToolName.readFile
        case "Edit", "MultiEdit": normalized = ToolName.editFile
        case "Bash": normalized = ToolName.runShellCommand
        case "Glob": normalized = ToolName.glob
        case "Grep": normalized = ToolName.grep
        case "LS": normalized = ToolName.listDirectory
        default:
            return ToolCall(name: name, parameters: input.map(decodedArguments) ?? .object([:]))
        }
        rename(&args, "file_path", to: "path")
        return ToolCall(name: normalized, parameters: .object(args), rawName: name)
    }

    /// Gemini CLI: its names already are Knify's, except the edit and search tools.
    static func gemini(name: String, parameters: JSONValue?) -> ToolCall {
        var args = parameters?.objectValue ?? [:]
        let normalized: String
        switch name {
        case "replace", "edit": normalized = ToolName.editFile
        case "search_file_content": normalized = ToolName.grep
        case "run_shell_command":
            normalized = name
            rename(&args, "directory", to: "working_directory")
        case "read_file":
            normalized = name
            rename(&args, "absolute_path", to: "path")
        case "list_directory":
            normalized = name
            rename(&args, "dir_path", to: "path")
        default: normalized = name
        }
        rename(&args, "file_path", to: "path")
        if let parameters, parameters.objectValue == nil {
            return ToolCall(name: normalized, parameters: decodedArguments(parameters), rawName: name)
        }
        return ToolCall(name: normalized, parameters: .object(args), rawName: name)
    }

    /// Arguments as an object: JSON text is decoded when it parses; anything that is not an object is wrapped
    /// as `{"arguments": …}` so `parameters` is always an object.
    static func decodedArguments(_ value: JSONValue?) -> JSONValue {
        guard let value else { return .object([:]) }
        switch value {
        case .object:
            return value
        case .string(let text):
            if let decoded = JSONValue.parse(text) {
                if case .object = decoded { return decoded }
                return .object(["arguments": decoded])
            }
            return .object(["arguments": value])
        case .null:
            return .object([:])
        default:
            return .object(["arguments": value])
        }
    }

    /// Moves `key` to `newKey` unless `newKey` is already there (then both stay, nothing is lost).
    private static func rename(_ args: inout [String: JSONValue], _ key: String, to newKey: String) {
        guard args[newKey] == nil, let value = args.removeValue(forKey: key) else { return }
        args[newKey] = value
    }
}
