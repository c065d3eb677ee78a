import Foundation

extension AgentDriver {
    /// The argv of one headless turn, as each CLI documents it (see `shared/fixtures/agents/README.md`).
    ///
    /// A prompt starting with `-` would be read as an option: cursor and claude then get `--` before it (claude's
    /// prompt moves to the end for that); gemini, whose prompt is the value of `-p`, gets `--prompt=<prompt>`.
    public func turnCommand(prompt: String, model: String, sessionId: String?, workspace: String) -> [String] {
        let looksLikeOption = prompt.hasPrefix("-")
        let resume = sessionId.flatMap { $0.isEmpty ? nil : $0 }
        switch dialect {
        case .cursor:
            var argv = [cli, "-p", "--output-format", "stream-json", "--trust", "--force",
                        "--workspace", workspace, "--model", cliModel(for: model) ?? model]
            if let resume { argv += ["--resume", resume] }
            if looksLikeOption { argv.append("--") }
            argv.append(prompt)
            return argv
        case .claude:
            var argv = looksLikeOption ? [cli, "-p"] : [cli, "-p", prompt]
            argv += ["--output-format", "stream-json", "--verbose"]
            if let cliModel = cliModel(for: model) { argv += ["--model", cliModel] }
            if let resume { argv += ["--resume", resume] }
            argv += ["--permission-mode", "bypassPermissions"]
            if looksLikeOption { argv += ["--", prompt] }
            return argv
        case .gemini:
            var argv = looksLikeOption ? [cli, "--prompt=\(prompt)"] : [cli, "-p", prompt]
            argv += ["-o", "stream-json", "--approval-mode", "yolo", "--skip-trust"]
            if let cliModel = cliModel(for: model) { argv += ["-m", cliModel] }
            if let resume { argv += ["-r", resume] }
            return argv
        }
    }

    /// Cursor only: `cursor-agent create-chat` prints a bare chat id. Knify mints the id before the first turn
    /// because `--resume` with an unknown id silently starts a new chat. Claude and gemini report their session id
    /// in the `init` line instead.
    public func createSessionCommand() -> [String]? {
        dialect == .cursor ? [cli, "create-chat"] : nil
    }

    /// `KEY=value` pairs for the exec: the API key under this agent's variable, and switches for a headless run
    /// (no colours, no prompts, no self-update). Nothing that relaxes the CLI's own safety checks.
    public func environment(apiKey: String?) -> [String] {
        var pairs: [String] = []
        if let apiKey, !apiKey.isEmpty { pairs.append("\(apiKeyVariable)=\(apiKey)") }
        pairs += ["CI=1", "NO_COLOR=1", "TERM=dumb"]
        switch dialect {
        case .cursor:
            break
        case .claude:
            pairs += ["DISABLE_AUTOUPDATER=1"]
        case .gemini:
            break
        }
        return pairs
    }

    /// Parses the bare id `create-chat` prints; nil when the output holds no valid id.
    public func sessionId(fromCreateChatOutput output: String) -> String? {
        guard let line = output.split(whereSeparator: \.isNewline).map({ $0.trimmingCharacters(in: .whitespaces) })
            .last(where: { !$0.isEmpty }) else { return nil }
        do {
            try validateSessionId(line)
            return line
        } catch {
            return nil
        }
    }
}
