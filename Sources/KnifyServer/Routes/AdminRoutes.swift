import Foundation
import Hummingbird
import Knaps
import Sandboxes
import Storage

/// What operators look at across tenants (admin scope): this node's live sandboxes, every knap, and a knap's runs.
/// The console's Sandboxes and Knaps views read these; they only read, so no rule lives here.
struct AdminRoutes {
    let sandboxes: SandboxManager
    let store: any Store

    func register(on router: some RouterMethods<KnifyRequestContext>) {
        router.get("/sandboxes", use: listSandboxes)
        router.get("/knaps", use: listKnaps)
        router.get("/knaps/:uuid/runs", use: knapRuns)
    }

    struct Listing<Item: Encodable>: Encodable {
        var data: [Item]
    }

    /// The node's live sandboxes (creating, active, paused), oldest first, with their policy's lifetimes.
    @Sendable func listSandboxes(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<Listing<SandboxView>> {
        _ = try context.require(.admin)
        let policies = sandboxes.configuration.policies
        let now = Date()
        let records = try await sandboxes.liveRecords().sorted { $0.createdAt < $1.createdAt }
        return JSONReply(Listing(data: records.map { SandboxView($0, policy: policies[$0.policy], now: now) }))
    }

    /// Every knap of every user, newest first, in the Knaps API's shape.
    @Sendable func listKnaps(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<Listing<KnapView>> {
        _ = try context.require(.admin)
        let knaps = try await store.allKnaps()
        return JSONReply(Listing(data: knaps.map { KnapView(knap: Knap(record: $0)) }))
    }

    /// A knap's runs, newest first, each with its job (`?limit=` 1–100, default 20).
    @Sendable func knapRuns(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<Listing<KnapRunView>> {
        _ = try context.require(.admin)
        let uuid = try KnapRoutes.uuid(context).lowercased()
        let limit = try JobRoutes.integer(request.uri.queryParameters["limit"], name: "limit", default: 20, range: 1...100)
        guard try await store.knap(uuid: uuid) != nil else { throw APIError.notFound("no knap \(uuid.prefix(80))") }
        let runs = try await store.runs(knapUUID: uuid, limit: limit)
        return JSONReply(Listing(data: runs.map(KnapRunView.init)))
    }
}
