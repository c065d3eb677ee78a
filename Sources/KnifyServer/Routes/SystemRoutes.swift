import Foundation
import Hummingbird
import Storage

/// `GET /` (health), `GET /openapi.json`, `GET /console` (placeholder until the console lands) — no key needed —
/// and `GET /metrics` (admin).
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
        router.get("/console") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: Self.consolePlaceholder)))
        }
    }

    func registerAuthenticated(on router: some RouterMethods<KnifyRequestContext>) {
        router.get("/metrics") { _, context in
            _ = try context.require(.admin)
            let text = try await metrics.scrape(store: store, node: node)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }
    }

    static let consolePlaceholder = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Knify console</title></head>
        <body><h1>Knify</h1><p>The web console is not built yet. The API is described at <a href="/openapi.json">/openapi.json</a>.</p></body></html>
        """
}
