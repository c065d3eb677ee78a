import Foundation
import Hummingbird
import Storage

/// `GET /` (health) and `GET /openapi.json` — no key needed — and `GET /metrics` (admin). The console has its own
/// routes (`ConsoleRoutes`).
struct SystemRoutes {
    let metrics: ServerMetrics
    let store: any Store
    let node: String

    struct Health: Encodable {
        let status: String
        let version: String
    }

    func registerPublic(on router: some RouterMethods<KnifyRequestContext>) {
        router.get("/") { _, _ in JSONReply(Health(status: "ok", version: ServerConfiguration.version)) }
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
