import Agents
import Foundation
import KnifyTestSupport

/// A fixed clock for lines that carry no timestamp of their own.
let fixedNow = Date(timeIntervalSince1970: 1_763_373_600)

/// The lines of a sample under `shared/fixtures/agents/`.
func fixtureLines(_ name: String) throws -> [String] {
    let text = try String(contentsOf: TestFixtures.agentsDirectory.appendingPathComponent(name), encoding: .utf8)
    return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
}

/// Parses whole text through a fresh parser, line by line.
func parseAll(_ lines: [String], dialect: AgentStreamParser.Dialect, secrets: [String] = [])
    -> (events: [AgentEvent], parser: AgentStreamParser)
{
    var parser = AgentStreamParser(dialect: dialect, secrets: secrets)
    let events = lines.flatMap { parser.parse(line: $0, receivedAt: fixedNow) }
    return (events, parser)
}

func parseFixture(_ name: String, _ dialect: AgentStreamParser.Dialect, secrets: [String] = []) throws
    -> (events: [AgentEvent], parser: AgentStreamParser)
{
    parseAll(try fixtureLines(name), dialect: dialect, secrets: secrets)
}

/// The event encoded as a JSON object, the way `GET /jobs/{id}/cursor` shows it.
func encodedObject(_ event: AgentEvent) throws -> [String: Any] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let data = try encoder.encode(event)
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
}

func encodedText(_ event: AgentEvent) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(event), as: UTF8.self)
}

/// `Images/local/rootfs/usr/local/bin/knify-agent` in this checkout.
let knifyAgentScript = TestFixtures.projectRoot.appendingPathComponent("Images/local/rootfs/usr/local/bin/knify-agent")

