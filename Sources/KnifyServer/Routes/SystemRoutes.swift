import Foundation
import Hummingbird
import Jobs
import Storage

/// `GET /` (health) and `GET /openapi.json` — no key needed — and `GET /metrics` (admin). The console has its own
/// routes (`ConsoleRoutes`).
struct SystemRoutes {
    let metrics: ServerMetrics
    let store: any Store
    let node: String
    let member: ClusterMember?

    struct Health: Encodable {
        let status: String
        let version: String
        let cluster: Cluster?
    }

    /// Which node answered, and whether it coordinates: how an operator (or a failover test) finds the coordinator.
    struct Cluster: Encodable {
        let node: String
        let role: String
        let coordinator: Bool
    }

    func registerPublic(on router: some RouterMethods<KnifyRequestContext>) {
        router.get("/") { _, _ in
            var cluster: Cluster?
            if let member {
                cluster = Cluster(node: member.configuration.node, role: member.configuration.role, coordinator: await member.isCoordinator)
            }
            return JSONReply(Health(status: "ok", version: ServerConfiguration.version, cluster: cluster))
        }
        router.get("/openapi.json") { _, _ in Response.json(Data(PackageResources.openapi_json)) }
    }

    func registerAuthenticated(on router: some RouterMethods<KnifyRequestContext>) {
        router.get("/metrics") { _, context in
            _ = try context.require(.admin)
            let text = try await metrics.scrape(store: store, node: node)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }
    }
}
