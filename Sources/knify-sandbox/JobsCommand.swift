import ArgumentParser
import Foundation
import Storage

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "Read jobs straight from the store (works while the server is down).",
        subcommands: [List.self, Show.self, Cancel.self, Cleanup.self])

    struct JobView: Encodable {
        var id: String
        var jobType: String
        var status: String
        var tenant: String
        var sandboxId: String?
        var parentJobId: String?
        var createdAt: String
        var completedAt: String?
        var error: String?
        var errorCode: String?
        var stages: [StageView]?

        struct StageView: Encodable {
            var ts: String
            var stage: String
            var level: String
            var detail: String
        }

        enum CodingKeys: String, CodingKey {
            case id, status, tenant, error, stages
            case jobType = "job_type", sandboxId = "sandbox_id", parentJobId = "parent_job_id"
            case createdAt = "created_at", completedAt = "completed_at", errorCode = "error_code"
        }

        init(_ job: JobRecord, stages: [StageEvent]? = nil) {
            id = job.id
            jobType = job.jobType
            status = job.status.rawValue
            tenant = job.tenant
            sandboxId = job.sandboxId
            parentJobId = job.parentJobId
            createdAt = isoString(job.createdAt)
            completedAt = job.completedAt.map(isoString)
            error = job.error
            errorCode = job.errorCode
            self.stages = stages?.map { StageView(ts: isoString($0.ts), stage: $0.stage, level: $0.level.rawValue, detail: $0.detail) }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(jobType, forKey: .jobType)
            try container.encode(status, forKey: .status)
            try container.encode(tenant, forKey: .tenant)
            try container.encode(sandboxId, forKey: .sandboxId)
            try container.encode(parentJobId, forKey: .parentJobId)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(completedAt, forKey: .completedAt)
            try container.encode(error, forKey: .error)
            try container.encode(errorCode, forKey: .errorCode)
            if let stages { try container.encode(stages, forKey: .stages) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List jobs, newest first.")
        @Option(help: "Only jobs in this status: pending, running, completed, failed, cancelled.") var status: String?
        @Option(help: "Only this workspace's (tenant's) jobs.") var workspace: String?
        @Option(help: "At most this many.") var limit = 50
        @Flag(help: "Print a JSON array.") var json = false
        @OptionGroup var store: StoreOptions

        func validate() throws {
            if let status, JobRecord.Status(rawValue: status) == nil {
                throw ValidationError("--status must be one of \(JobRecord.Status.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000") }
        }

        func run() async throws {
            do {
                let query = JobQuery(tenant: workspace, status: status.flatMap(JobRecord.Status.init(rawValue:)), limit: limit)
                let jobs = try await store.open().jobs(query).jobs.map { JobView($0) }
                if json { return try printJSON(jobs) }
                printTable(["ID", "TYPE", "STATUS", "WORKSPACE", "SANDBOX", "CREATED", "ERROR"], jobs.map {
                    [$0.id, $0.jobType, $0.status, $0.tenant, $0.sandboxId ?? "-", $0.createdAt, $0.error ?? ""]
                })
            } catch {
                throw fail(error)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one job with its stage events, as JSON.")
        @Argument(help: "A job id (job_…).") var id: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                let store = try await store.open()
                guard let job = try await store.job(id: id) else { throw notFound("job \(id)") }
                try printJSON(JobView(job, stages: try await store.stages(jobId: id)))
            } catch let exit as ExitCode {
                throw exit
            } catch {
                throw fail(error)
            }
        }
    }

    /// A running job belongs to the server that runs it: the CLI stops one only with `--force` (its server is gone).
    static func stoppable(_ job: JobRecord, force: Bool) throws {
        guard job.status == .running, !force else { return }
        var stderr = FileHandle.standardError
        print("error: job \(job.id) is running; cancel it through the API (POST /jobs/\(job.id)/cancel), or use --force "
              + "if its server is gone (the job is marked cancelled and its sandbox destroyed)", to: &stderr)
        throw ExitStatus.failure
    }

    /// Marks a job cancelled in the store, with a stage saying who did it.
    static func markCancelled(_ job: JobRecord, store: any Store) async throws -> JobRecord {
        var job = job
        job.status = .cancelled
        job.completedAt = Date()
        job.error = "cancelled by knify-sandbox"
        try await store.updateJob(job)
        try await store.appendStage(jobId: job.id, StageEvent(stage: "cancelled", level: .warning, detail: "Job cancelled by knify-sandbox"))
        return job
    }

    static func find(_ id: String, in store: any Store) async throws -> JobRecord {
        guard let job = try await store.job(id: id) else { throw notFound("job \(id)") }
        return job
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a queued job (a running one only with --force, when its server is gone).",
            discussion: "A finished job is left as it is. A queued job is marked cancelled; its server skips it.")
        @Argument(help: "A job id (job_…).") var id: String
        @Flag(help: "Also cancel a running job, destroying its sandbox: for a job whose server is gone.") var force = false
        @OptionGroup var options: SandboxOptions

        func run() async throws {
            do {
                let store = try await options.store.open()
                let job = try await JobsCommand.find(id, in: store)
                guard !job.status.isFinal else { return print("\(id) is already \(job.status.rawValue)") }
                try JobsCommand.stoppable(job, force: force)
                if job.status == .running, let sandboxId = job.sandboxId {
                    _ = try await options.manager().destroy(sandboxId, reason: "job \(id) cancelled by knify-sandbox --force")
                }
                print("\(try await JobsCommand.markCancelled(job, store: store).id) cancelled")
            } catch let exit as ExitCode {
                throw exit
            } catch {
                throw fail(error)
            }
        }
    }

    struct Cleanup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Destroy a finished job's sandbox (idempotent), as POST /jobs/{id}/cleanup does.")
        @Argument(help: "A job id (job_…).") var id: String
        @Flag(help: "Also clean up a running job (cancelled first): for a job whose server is gone.") var force = false
        @OptionGroup var options: SandboxOptions

        func run() async throws {
            do {
                let store = try await options.store.open()
                var job = try await JobsCommand.find(id, in: store)
                try JobsCommand.stoppable(job, force: force)
                if !job.status.isFinal { job = try await JobsCommand.markCancelled(job, store: store) }
                guard let sandboxId = job.sandboxId, let sandbox = try await store.sandbox(id: sandboxId), sandbox.isLive else {
                    return print("\(id): already cleaned")
                }
                _ = try await options.manager().destroy(sandboxId, reason: "cleanup of job \(id) by knify-sandbox")
                try await store.appendStage(jobId: id, StageEvent(stage: "sandbox_cleaned", level: .info, detail: "Sandbox \(sandboxId) destroyed"))
                print("\(id): sandbox \(sandboxId) destroyed")
            } catch let exit as ExitCode {
                throw exit
            } catch {
                throw fail(error)
            }
        }
    }
}
