import Foundation

/// Files under `../shared/` (beside the project checkout), found from this source file's location.
public enum TestFixtures {
    public static let projectRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static let agentsDirectory = projectRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/fixtures/agents", isDirectory: true)

    /// The JSON objects of one fixture stream, one per line.
    public static func agentStream(_ name: String) throws -> [[String: Any]] {
        let text = try String(contentsOf: agentsDirectory.appendingPathComponent(name), encoding: .utf8)
        return try jsonLines(text)
    }

    public static func jsonLines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw FixtureError(line: String(line))
            }
            return object
        }
    }

    public struct FixtureError: Error, CustomStringConvertible {
        public let line: String
        public var description: String { "not a JSON object: \(line)" }
    }
}

extension TestFixtures {
    /// The project's own `Policies/` folder.
    public static let policiesDirectory = projectRoot.appendingPathComponent("Policies", isDirectory: true).path
}
