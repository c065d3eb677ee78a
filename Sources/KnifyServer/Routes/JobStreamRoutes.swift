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
        let items = try await jobs.follow(id, after: after)
        let keepAlive = keepAlive
        let body = ResponseBody { writer in
            // A client that reads slower than the agent writes is not buffered without bound: past `backlog` frames
            // its stream is closed without `done`, and its EventSource reconnects with Last-Event-ID, which replays
            // the rest from the store.
            let (frames, output) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingOldest(Self.backlog))
            let pump = Task {
                for await item in items {
                    let frame = switch item {
                    case .event(let row): "id: \(row.sequence)\ndata: \(row.json)\n\n"
                    case .done(let status): "data: {\"type\":\"done\",\"status\":\"\(status.rawValue)\"}\n\n"
                    }
                    if case .dropped = output.yield(frame) { break }
                }
                output.finish()
            }
            let ticker = Task {
                while true {
                    do { try await Task.sleep(for: keepAlive) } catch { return }
                    output.yield(": keep-alive\n\n")
                }
            }
            defer {
                pump.cancel()
                ticker.cancel()
            }
            // A comment first, so the client sees the headers and knows the stream is open.
            try await writer.write(ByteBuffer(string: ": stream of \(id)\n\n"))
            for await frame in frames {
                try await writer.write(ByteBuffer(string: frame))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [
            .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no",
        ], body: body)
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
