import Foundation
import Hummingbird
import Knaps

/// The Knaps API's `/api/studio/knap-tools…`: CRUD, a knap's runs, and the meeting-transcription trigger. Rules live
/// in `KnapService` and `KnapRunner`; this file turns HTTP into calls and knaps into Knapsack's shapes.
struct KnapRoutes {
    let knaps: KnapService
    let runner: KnapRunner

    func register(on router: some RouterMethods<KnifyRequestContext>) {
        router.get("/api/studio/knap-tools", use: list)
        router.post("/api/studio/knap-tools", use: create)
        router.post("/api/studio/knap-tools/events/meeting-transcription", use: meetingTranscription)
        router.get("/api/studio/knap-tools/:uuid", use: show)
        router.put("/api/studio/knap-tools/:uuid", use: update)
        router.patch("/api/studio/knap-tools/:uuid", use: update)
        router.delete("/api/studio/knap-tools/:uuid", use: delete)
        router.get("/api/studio/knap-tools/:uuid/runs", use: runs)
    }

    @Sendable func list(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<KnapListView> {
        JSONReply(KnapListView(try await knaps.list(for: try context.requireKnapCaller())))
    }

    @Sendable func create(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<KnapView> {
        let caller = try context.requireKnapCaller()
        let input = try await RequestBody.decode(KnapInput.self, from: request, context: context)
        let knap = try await knaps.create(input, by: caller)
        context.logger.info("knap created", metadata: ["knap": .string(knap.record.uuid)])
        return JSONReply(KnapView(knap: knap), status: .created)
    }

    @Sendable func show(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<KnapView> {
        JSONReply(KnapView(knap: try await knaps.get(try Self.uuid(context), for: try context.requireKnapCaller())))
    }

    @Sendable func update(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<KnapView> {
        let caller = try context.requireKnapCaller()
        let uuid = try Self.uuid(context)
        let input = try await RequestBody.decode(KnapInput.self, from: request, context: context)
        return JSONReply(KnapView(knap: try await knaps.update(uuid, input, by: caller)))
    }

    struct Deleted: Encodable {
        var detail: String
        var uuid: String
    }

    @Sendable func delete(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<Deleted> {
        let caller = try context.requireKnapCaller()
        let uuid = try Self.uuid(context)
        try await knaps.delete(uuid, by: caller)
        context.logger.info("knap deleted", metadata: ["knap": .string(uuid)])
        return JSONReply(Deleted(detail: "knap deleted", uuid: uuid.lowercased()))
    }

    struct Runs: Encodable {
        var runs: [KnapRunView]
    }

    @Sendable func runs(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<Runs> {
        let rows = try await runner.runs(of: try Self.uuid(context), for: try context.requireKnapCaller())
        return JSONReply(Runs(runs: rows.map(KnapRunView.init)))
    }

    struct Triggered: Encodable {
        var meetingId: String
        var runs: [KnapRunView]
        enum CodingKeys: String, CodingKey { case meetingId = "meeting_id", runs }
    }

    @Sendable func meetingTranscription(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<Triggered> {
        let caller = try context.requireKnapCaller()
        let meeting = try await RequestBody.decode(KnapRunner.Meeting.self, from: request, context: context)
        let runs = try await runner.meetingEnded(meeting, by: caller)
        context.logger.info("meeting transcription", metadata: ["meeting": .string(meeting.meetingId), "runs": .stringConvertible(runs.count)])
        return JSONReply(Triggered(meetingId: meeting.meetingId, runs: runs.map { KnapRunView(run: $0, status: nil) }))
    }

    static func uuid(_ context: KnifyRequestContext) throws -> String {
        guard let uuid = context.parameters.get("uuid"), !uuid.isEmpty, uuid.count <= 64 else {
            throw APIError.notFound("no such knap")
        }
        return uuid
    }
}
