import Foundation

/// Everything Knify needs to run one agent CLI headless: its command line and environment, its model allow-list,
/// its stream parser and how to read its failures. One per job type; values, so a config can adjust a copy.
public struct AgentDriver: Sendable, Equatable {
    public let jobType: String
    /// The executable, looked up on the sandbox's PATH.
    public let cli: String
    public let apiKeyVariable: String
    public let dialect: AgentStreamParser.Dialect
    /// Knify's model names accepted for this agent (config may replace the defaults).
    public var allowedModels: [String]
    /// Used when a job names no model; `auto` lets the CLI choose.
    public var defaultModel: String

    public init(jobType: String, cli: String, apiKeyVariable: String, dialect: AgentStreamParser.Dialect,
                allowedModels: [String], defaultModel: String = "auto") {
        self.jobType = jobType
        self.cli = cli
        self.apiKeyVariable = apiKeyVariable
        self.dialect = dialect
        self.allowedModels = allowedModels
        self.defaultModel = defaultModel
    }

    public static let cursor = AgentDriver(
        jobType: "cursor_task", cli: "cursor-agent", apiKeyVariable: "CURSOR_API_KEY", dialect: .cursor,
        allowedModels: ["auto", "sonnet-4.5", "sonnet-4.5-thinking", "opus-4.1", "composer-1", "gpt-5"])

    public static let claude = AgentDriver(
        jobType: "claude_task", cli: "claude", apiKeyVariable: "ANTHROPIC_API_KEY", dialect: .claude,
        allowedModels: ["auto", "sonnet-4.5", "opus-4.1", "haiku-4.5"])

    public static let gemini = AgentDriver(
        jobType: "gemini_task", cli: "gemini", apiKeyVariable: "GEMINI_API_KEY", dialect: .gemini,
        allowedModels: ["auto", "gemini-2.5-pro", "gemini-2.5-flash"])

    public static let all: [AgentDriver] = [.cursor, .claude, .gemini]

    /// The driver for `cursor_task`, `claude_task` or `gemini_task`; nil for any other job type.
    public static func forJobType(_ jobType: String) -> AgentDriver? {
        all.first { $0.jobType == jobType }
    }

    /// Like `forJobType`, for callers that want the layer's error naming the agent job types.
    public static func require(jobType: String) throws(AgentError) -> AgentDriver {
        guard let driver = forJobType(jobType) else {
            let known = all.map(\.jobType).joined(separator: ", ")
            throw AgentError(.unknownJobType, "unknown agent job type '\(jobType)'; agent job types: \(known)")
        }
        return driver
    }

    /// The model to run: nil or blank means the default; names match case-insensitively and come back as listed.
    public func validateModel(_ model: String?) throws(AgentError) -> String {
        let requested = model?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if requested.isEmpty { return defaultModel }
        if let match = allowedModels.first(where: { $0.caseInsensitiveCompare(requested) == .orderedSame }) {
            return match
        }
        throw AgentError(.invalidModel,
                         "model '\(requested)' is not available for \(jobType); allowed models: "
                             + allowedModels.joined(separator: ", "))
    }

    /// Session ids end up as CLI arguments (and, offline, directory names): letters, digits, `.`, `_`, `-`, not
    /// starting with `-`, at most 128 characters.
    public func validateSessionId(_ sessionId: String) throws(AgentError) {
        let allowed = sessionId.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
        guard allowed, !sessionId.isEmpty, sessionId.count <= 128, !sessionId.hasPrefix("-"),
              sessionId != ".", sessionId != ".." else {
            throw AgentError(.invalidSpec, "session id '\(sessionId)' is not valid: use letters, digits, '.', '_' and '-'")
        }
    }

    /// The model name the CLI itself understands, or nil to leave the CLI's own default (`auto` for claude and
    /// gemini, which have no such model).
    public func cliModel(for model: String) -> String? {
        switch dialect {
        case .cursor:
            return model
        case .claude:
            switch model {
            case "auto": return nil
            case "sonnet-4.5": return "claude-sonnet-4-5"
            case "opus-4.1": return "claude-opus-4-1"
            case "haiku-4.5": return "claude-haiku-4-5"
            default: return model
            }
        case .gemini:
            return model == "auto" ? nil : model
        }
    }

    /// A fresh stream parser for one turn of this agent.
    public func makeParser(secrets: [String]) -> AgentStreamParser {
        AgentStreamParser(dialect: dialect, secrets: secrets)
    }
}
