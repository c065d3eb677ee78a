import Foundation

/// Replaces every occurrence of known secrets (API keys) with `[REDACTED]`, so they never reach events or reasons.
public struct SecretRedactor: Sendable, Equatable {
    public static let replacement = "[REDACTED]"

    /// Longest first, so a secret that contains another is replaced whole.
    private let secrets: [String]
    /// The secrets plus their JSON-escaped spellings, for raw lines where `"`, `\` or `/` appear escaped.
    private let rawForms: [String]

    public init(secrets: [String]) {
        let unique = Set(secrets.filter { !$0.isEmpty })
        self.secrets = unique.sorted { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }
        var forms = Set(unique)
        for secret in unique {
            let escaped = JSONValue.string(secret).jsonString().dropFirst().dropLast()
            forms.insert(String(escaped))
            forms.insert(String(escaped).replacingOccurrences(of: "/", with: "\\/"))
        }
        self.rawForms = forms.sorted { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }
    }

    public var isEmpty: Bool { secrets.isEmpty }

    /// `text` with every secret replaced.
    public func redact(_ text: String) -> String {
        Self.replace(secrets, in: text)
    }

    /// A raw JSON line with every secret replaced, escaped spellings included.
    func redactRaw(_ line: String) -> String {
        Self.replace(rawForms, in: line)
    }

    /// True when a secret occurs in `text`.
    func occurs(in text: String) -> Bool {
        secrets.contains { text.contains($0) }
    }

    /// True when a secret occurs in any string of `value`, keys included.
    func occurs(in value: JSONValue) -> Bool {
        switch value {
        case .string(let text): return occurs(in: text)
        case .array(let elements): return elements.contains { occurs(in: $0) }
        case .object(let members): return members.contains { occurs(in: $0.key) || occurs(in: $0.value) }
        case .null, .bool, .number: return false
        }
    }

    private static func replace(_ needles: [String], in text: String) -> String {
        guard !needles.isEmpty, !text.isEmpty else { return text }
        var result = text
        for needle in needles where result.contains(needle) {
            result = result.replacingOccurrences(of: needle, with: replacement)
        }
        return result
    }
}
