import ArgumentParser
import Foundation
import Storage

/// The cluster's nodes as their heartbeats left them in the shared store: who is up, who was lost, how busy each is.
struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes",
        abstract: "List a cluster's nodes (read from the store: --store postgres://…).",
        subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "Every node: role, state, address, last heartbeat, lease, load (live sandboxes + jobs without one).")
        @Flag(help: "Print a JSON array.") var json = false
        @OptionGroup var store: StoreOptions

        struct View: Encodable {
            var id: String
            var role: String
            var state: String
            var address: String?
            var startedAt: String
            var heartbeatAt: String
            var leaseUntil: String
            /// Nil for nodes that take no jobs now (API nodes, lost or left ones).
            var load: Int?
            enum CodingKeys: String, CodingKey {
                case id, role, state, address, load
                case startedAt = "started_at", heartbeatAt = "heartbeat_at", leaseUntil = "lease_until"
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(id, forKey: .id)
                try container.encode(role, forKey: .role)
                try container.encode(state, forKey: .state)
                try container.encode(address, forKey: .address)
                try container.encode(startedAt, forKey: .startedAt)
                try container.encode(heartbeatAt, forKey: .heartbeatAt)
                try container.encode(leaseUntil, forKey: .leaseUntil)
                try container.encode(load, forKey: .load)
            }
        }

        func run() async throws {
            let nodes: [NodeRecord]
            let loads: [NodeLoad]
            do {
                let opened = try await store.open()
                nodes = try await opened.nodes()
                loads = try await opened.workerLoads(at: Date())
                await opened.close()
            } catch {
                throw fail(error)
            }
            let load = Dictionary(loads.map { ($0.node, $0.load) }, uniquingKeysWith: { first, _ in first })
            let views = nodes.map {
                View(id: $0.id, role: $0.role, state: $0.state.rawValue, address: $0.address, startedAt: isoString($0.startedAt),
                     heartbeatAt: isoString($0.heartbeatAt), leaseUntil: isoString($0.leaseUntil), load: load[$0.id])
            }
            if json { return try printJSON(views) }
            printTable(["NODE", "ROLE", "STATE", "ADDRESS", "HEARTBEAT", "LEASE UNTIL", "LOAD"], views.map {
                [$0.id, $0.role, $0.state, $0.address ?? "-", $0.heartbeatAt, $0.leaseUntil, $0.load.map(String.init) ?? "-"]
            })
        }
    }
}
