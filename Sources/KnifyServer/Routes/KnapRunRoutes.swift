import Foundation
import Hummingbird
import Knaps

/// `POST /api/knap-tools/run`: runs a knap (or ad-hoc messages) as a Knify job. With `stream_updates` (the default)
/// the reply is Server-Sent Events — `event: <type>` and `data: <JSON with the same type>`, so both
/// `addEventListener` and plain line readers work — ending with `done`; with `stream_updates: false`, one JSON reply
/// once the run has ended.
struct KnapRunRoutes {
    let runner: KnapRunner
    let keepAlive: Duration

    func register(on router: some RouterMethods<KnifyRequestContext>) {
        router.post("/api/knap-tools/run", use: run)
    }

    /// The runner's request plus `stream_updates`, read from one body.
    struct Body: Decodable {
        var run: KnapRunner.Request
        var streamUpdates: Bool

        enum CodingKeys: String, CodingKey { case streamUpdates = "stream_updates" }

        init(from decoder: any Decoder) throws {
            run = try KnapRunner.Request(from: decoder)
            streamUpdates = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(Bool.self, forKey: .streamUpdates) ?? true
        }
    }

    @Sendable func run(_ request: Request, context: KnifyRequestContext) async throws -> Response {
        let caller = try context.requireKnapCaller()
        let body = try await RequestBody.decode(Body.self, from: request, context: context)
        let run = try await runner.start(body.run, by: caller)
        context.logger.info("knap run", metadata: ["run": .string(run.id), "job": .string(run.jobId), "chat": .string(run.chatId)])
        guard body.streamUpdates else {
            return .json(Data(try await runner.summary(of: run).json.jsonString().utf8))
        }
        return ServerSentEvents.response(try await runner.events(of: run), keepAlive: keepAlive) { event in
            ServerSentEvents.frame(event: event.name, data: event.json.jsonString())
        }
    }
}
