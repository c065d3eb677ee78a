import Agents
import Foundation
import Hummingbird
import Jobs
import Storage

/// `/jobs…`: create, list, read, continue, cleanup, cancel. Business rules live in `JobExecutor`; this file only
/// turns HTTP into calls and records into the reference's shapes.
struct JobRoutes {
    let jobs: JobExecutor
    let rendered = RenderedJobs()

    func register(on router: some RouterMethods<KnifyRequestContext>) {
        router.post("/jobs", use: create)
        router.get("/jobs", use: list)
        router.get("/jobs/:id", use: show)
        router.get("/jobs/:id/events", use: events)
        router.get("/jobs/:id/artifacts", use: artifacts)
        router.get("/jobs/:id/artifacts/**", use: artifactFile)
        router.get("/jobs/:id/cursor", use: cursor)
        router.post("/jobs/:id/continue", use: continueJob)
        router.post("/jobs/:id/cleanup", use: cleanup)
        router.post("/jobs/:id/cancel", use: cancel)
    }

    struct SpecBody: Decodable {
        var spec: JobSpec
    }

    struct Created: Encodable {
        var jobId: String
        var status: String
        enum CodingKeys: String, CodingKey { case jobId = "job_id", status }
    }

    @Sendable func create(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<Created> {
        let principal = try context.require(.jobsWrite)
        let body = try await RequestBody.decode(SpecBody.self, from: request, context: context)
        let job = try await jobs.submit(body.spec, tenant: principal.tenant)
        context.logger.info("job submitted", metadata: ["job": .string(job.id), "job_type": .string(job.jobType)])
        return JSONReply(Created(jobId: job.id, status: job.status.rawValue))
    }

    struct Page: Encodable {
        var data: [JobView]
        var pagination: Pagination
    }

    struct Pagination: Encodable {
        var page: Int
        var limit: Int
        var total: Int
        var pages: Int
    }

    @Sendable func list(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<Page> {
        let principal = try context.require(.jobsRead)
        let query = request.uri.queryParameters
        let page = try Self.integer(query["page"], name: "page", default: 1, range: 1...1_000_000)
        let limit = try Self.integer(query["limit"], name: "limit", default: 20, range: 1...100)
        var filter = JobQuery(tenant: principal.tenantFilter, limit: limit, offset: (page - 1) * limit)
        if let status = query["status"] {
            guard let value = JobRecord.Status(rawValue: String(status)) else {
                throw APIError.badRequest("status must be one of \(JobRecord.Status.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.status = value
        }
        if let jobType = query["job_type"] {
            guard JobType.all.contains(String(jobType)) else {
                throw APIError.badRequest("job_type must be one of \(JobType.all.joined(separator: ", "))")
            }
            filter.jobType = String(jobType)
        }
        let (records, total) = try await jobs.jobs(filter)
        let states = try await jobs.sandboxStates(Set(records.compactMap(\.sandboxId)))
        let views = records.map { JobView(job: $0, sandboxState: $0.sandboxId.flatMap { states[$0] }) }
        return JSONReply(Page(data: views, pagination: Pagination(page: page, limit: limit, total: total,
                                                                  pages: (total + limit - 1) / limit)))
    }

    @Sendable func show(_ request: Request, context: KnifyRequestContext) async throws -> Response {
        let principal = try context.require(.jobsRead)
        let detail = try await jobs.detail(try Self.jobId(context), tenant: principal.tenantFilter)
        return .json(try rendered.body(for: detail))
    }

    @Sendable func events(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<[String: [StageView]]> {
        let principal = try context.require(.jobsRead)
        let stages = try await jobs.stages(try Self.jobId(context), tenant: principal.tenantFilter)
        return JSONReply(["events": stages.map(StageView.init)])
    }

    /// `{path: content}`: JSON files parsed, text as strings, binary as base64; files over the size limit as null.
    @Sendable func artifacts(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<[String: JSONValue]> {
        let principal = try context.require(.jobsRead)
        var rendered: [String: JSONValue] = [:]
        for (artifact, content) in try await jobs.artifacts(try Self.jobId(context), tenant: principal.tenantFilter) {
            guard let content else {
                rendered[artifact.path] = .null
                continue
            }
            switch artifact.kind {
            case "json": rendered[artifact.path] = JSONValue.parse(content) ?? .string(String(decoding: content, as: UTF8.self))
            case "text": rendered[artifact.path] = .string(String(decoding: content, as: UTF8.self))
            default: rendered[artifact.path] = .string(content.base64EncodedString())
            }
        }
        return JSONReply(rendered)
    }

    /// The artifact's bytes as they are, for downloads.
    @Sendable func artifactFile(_ request: Request, context: KnifyRequestContext) async throws -> Response {
        let principal = try context.require(.jobsRead)
        let path = context.parameters.getCatchAll().joined(separator: "/")
        guard let (artifact, content) = try await jobs.artifact(try Self.jobId(context), path: path, tenant: principal.tenantFilter) else {
            throw APIError.notFound("the job has no artifact \(path)")
        }
        guard let content else { throw APIError.notFound("artifact \(path) was over the size limit; its contents were not kept") }
        let type = switch artifact.kind {
        case "json": "application/json"
        case "text": "text/plain; charset=utf-8"
        default: "application/octet-stream"
        }
        let name = (path as NSString).lastPathComponent.replacingOccurrences(of: "\"", with: "")
        return Response(status: .ok, headers: [.contentType: type, .contentDisposition: "attachment; filename=\"\(name)\""],
                        body: .init(byteBuffer: ByteBuffer(bytes: content)))
    }

    /// Normalized agent events (`?raw=true`: the CLI's own lines).
    @Sendable func cursor(_ request: Request, context: KnifyRequestContext) async throws -> Response {
        let principal = try context.require(.jobsRead)
        let rows = try await jobs.agentEvents(try Self.jobId(context), tenant: principal.tenantFilter)
        switch request.uri.queryParameters["raw"] {
        case nil, "false":
            // Each row already holds its event as JSON text: joined, not decoded and encoded again.
            return Response.json(Data(("{\"events\":[" + rows.map(\.json).joined(separator: ",") + "]}").utf8))
        case "true":
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            return Response.json(try encoder.encode(["lines": rows.map(\.raw).filter { !$0.isEmpty }]))
        default:
            throw APIError.badRequest("raw must be true or false")
        }
    }

    struct Continued: Encodable {
        var jobId: String
        var status: String
        var parentJobId: String?
        var sandboxId: String?
        var cursorSessionId: String?
        enum CodingKeys: String, CodingKey {
            case jobId = "job_id", status, parentJobId = "parent_job_id", sandboxId = "sandbox_id", cursorSessionId = "cursor_session_id"
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(jobId, forKey: .jobId)
            try container.encode(status, forKey: .status)
            try container.encode(parentJobId, forKey: .parentJobId)
            try container.encode(sandboxId, forKey: .sandboxId)
            try container.encode(cursorSessionId, forKey: .cursorSessionId)
        }
    }

    @Sendable func continueJob(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<Continued> {
        let principal = try context.require(.jobsWrite)
        let parentId = try Self.jobId(context)
        let body = try await RequestBody.decode(SpecBody.self, from: request, context: context)
        let job = try await jobs.continueJob(parentId, spec: body.spec, tenant: principal.tenantFilter)
        context.logger.info("job continued", metadata: ["job": .string(job.id), "parent": .string(parentId),
                                                        "sandbox": .string(job.sandboxId ?? "")])
        return JSONReply(Continued(jobId: job.id, status: job.status.rawValue, parentJobId: job.parentJobId,
                                   sandboxId: job.sandboxId, cursorSessionId: job.agentSessionId))
    }

    struct CleanedUp: Encodable {
        var success: Bool
        var message: String
    }

    @Sendable func cleanup(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<CleanedUp> {
        let principal = try context.require(.jobsWrite)
        let (job, alreadyCleaned) = try await jobs.cleanup(try Self.jobId(context), tenant: principal.tenantFilter)
        context.logger.info("sandbox cleanup", metadata: ["sandbox": .string(job.sandboxId ?? ""), "already": .stringConvertible(alreadyCleaned)])
        return JSONReply(CleanedUp(success: true, message: alreadyCleaned ? "already cleaned" : "Sandbox cleaned up successfully"))
    }

    @Sendable func cancel(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<JobView> {
        let principal = try context.require(.jobsWrite)
        let job = try await jobs.cancel(try Self.jobId(context), tenant: principal.tenantFilter)
        let states = try await jobs.sandboxStates(Set([job.sandboxId].compactMap { $0 }))
        return JSONReply(JobView(job: job, sandboxState: job.sandboxId.flatMap { states[$0] }))
    }

    // MARK: - Parameters

    /// The `:id` of the path. Ids are `job_` + base62; anything else cannot name a job.
    static func jobId(_ context: KnifyRequestContext) throws -> String {
        let id = context.parameters.get("id") ?? ""
        // `^job_[A-Za-z0-9]{1,64}$` by hand: on every job request, a compiled regular expression showed in profiles.
        let tail = id.utf8.dropFirst(4)
        guard id.hasPrefix("job_"), (1...64).contains(tail.count), tail.allSatisfy({ byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        }) else {
            throw APIError.notFound("no job \(id.prefix(80)): job ids look like job_<letters and digits>")
        }
        return id
    }

    static func integer(_ text: Substring?, name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError.badRequest("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text.prefix(40))'")
        }
        return number
    }
}
