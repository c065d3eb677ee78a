import Foundation
import Hummingbird
import Jobs

/// `GET /jobs/{id}/cursor/stream` (Server-Sent Events) and the stream tokens browsers use to open it.
///
/// Framing, per the API decisions: `id: <sequence>` + `data: <event JSON>`, no `event:` field (so
/// `EventSource.onmessage` fires), `: keep-alive` comments while the agent is quiet, and a last
/// `data: {"type":"done","status":…}` before the server closes. `Last-Event-ID` (or `?last_event_id=`) resumes
/// after that sequence number: events are replayed from the store, then followed live.
struct JobStreamRoutes {
    let jobs: JobExecutor
    let tokens: StreamTokens
    let keepAlive: Duration
    static let backlog = 10_000

    func register(on router: some RouterMethods<KnifyRequestContext>) {
        router.get("/jobs/:id/cursor/stream", use: stream)
        router.post("/jobs/:id/stream-token", use: makeToken)
    }

    @Sendable func stream(_ request: Request, context: KnifyRequestContext) async throws -> Response {
        let principal = try context.require(.jobsRead)
        let id = try JobRoutes.jobId(context)
        _ = try await jobs.visibleJob(id, tenant: principal.tenantFilter)
        let resumeText = request.headers[.lastEventId] ?? request.uri.queryParameters["last_event_id"].map(String.init)
        let after = try JobRoutes.integer(resumeText.map { Substring($0) }, name: "Last-Event-ID", default: 0, range: 0...Int.max)
        // A client that reads slower than the agent writes is not buffered without bound: past `backlog` events its
        // stream is closed without `done`, and its EventSource reconnects with Last-Event-ID, which replays the rest
        // from the store.
        let feed = try await jobs.follow(id, after: after, backlog: Self.backlog, heartbeat: keepAlive)
        let frames = feed.map { item in
            switch item {
            case .event(let row): ServerSentEvents.frame(id: String(row.sequence), data: row.json)
            case .done(let status): ServerSentEvents.frame(data: #"{"type":"done","status":"\#(status.rawValue)"}"#)
            case .heartbeat: ServerSentEvents.keepAlive
            }
        }
        return ServerSentEvents.response(frames: frames, preamble: "stream of \(id)")
    }

    struct Token: Encodable {
        var token: String
        var expiresAt: String
        var streamURL: String
        enum CodingKeys: String, CodingKey { case token, expiresAt = "expires_at", streamURL = "stream_url" }
    }

    /// A token that opens this job's stream for five minutes without an Authorization header.
    @Sendable func makeToken(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<Token> {
        let principal = try context.require(.jobsRead)
        let id = try JobRoutes.jobId(context)
        _ = try await jobs.visibleJob(id, tenant: principal.tenantFilter)
        let (token, expires) = tokens.make(jobId: id, for: principal)
        return JSONReply(Token(token: token, expiresAt: ISO8601.string(expires), streamURL: "/jobs/\(id)/cursor/stream?token=\(token)"))
    }
}
