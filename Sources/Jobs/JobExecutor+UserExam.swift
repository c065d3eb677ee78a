import Agents
import DockerEngine
import Foundation
import Sandboxes
import Storage

/// `user_exam`: one user's jobs (and knap runs) in a time range, exported into the sandbox and summarised there by
/// the image's `knify-report` tool into `result.json` and `report.md`, collected as the job's artifacts.
extension JobExecutor {
    static let examJobLimit = 5000

    func runUserExam(_ job: inout JobRecord, _ validated: ValidatedSpec, sandbox: SandboxRecord) async throws(JobError) -> Outcome {
        guard let userId = validated.spec.userId, let range = validated.spec.timeRange else {
            throw JobError(.invalidSpec, "user_id and time_range are required for user_exam")
        }
        let tenant = job.tenant
        let examined = try await storeCall {
            try await store.jobs(JobQuery(tenant: tenant, userId: userId, createdFrom: range.from, createdTo: range.to,
                                          limit: Self.examJobLimit))
        }.jobs.filter { $0.id != job.id }

        var lines: [String] = []
        for record in examined.reversed() {
            lines.append(try await examLine(record))
        }
        let request: [String: Any] = [
            "user_id": userId,
            "time_range": ["from": ISO8601.string(range.from), "to": ISO8601.string(range.to)],
            "generated_at": ISO8601.string(Date()),
        ]
        var tar = TarWriter()
        tar.addDirectory("exam", uid: 1000, gid: 1000)
        tar.addFile("exam/request.json", contents: Array(Self.json(request).utf8), uid: 1000, gid: 1000)
        tar.addFile("exam/jobs.jsonl", contents: Array(lines.map { $0 + "\n" }.joined().utf8), uid: 1000, gid: 1000)
        try await sandboxCall { try await sandboxes.putArchive(sandbox.id, path: "/workspace", tar: tar.finish()) }

        let before = try await snapshot(sandbox.id).checksums
        try await stage(job.id, "agent_started", "knify-report examining \(examined.count) jobs of \(userId)")
        let report = try await sandboxCall {
            try await sandboxes.run(sandbox.id, ExecSpec(cmd: ["knify-report", "--input", "/workspace/exam", "--output", "/workspace"],
                                                         workingDir: "/workspace"), timeout: .seconds(300))
        }
        try await collectArtifacts(job.id, sandbox: sandbox.id, before: before)
        if report.timedOut { return .failed("knify-report timed out", code: "TIMEOUT") }
        guard report.result.exitCode == 0 else {
            let reason = report.result.stderrText.split(separator: "\n").last.map(String.init) ?? "exit code \(report.result.exitCode)"
            return .failed("knify-report failed: \(reason)", code: "SANDBOX_ERROR")
        }
        return .completed
    }

    /// One `jobs.jsonl` line in the exact field order `knify-report` reads (Images/local/REPORT.md).
    private func examLine(_ record: JobRecord) async throws(JobError) -> String {
        let spec = try? decode(record)
        var tools: [String] = []
        var seen = Set<String>()
        for row in try await storeCall({ try await store.agentEvents(jobId: record.id, after: 0) }) where row.type == "tool_use" {
            if let data = row.json.data(using: .utf8),
               let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
               let tool = object["tool"] as? String, seen.insert(tool).inserted {
                tools.append(tool)
            }
        }
        let duration: String
        if let start = record.startedAt, let end = record.completedAt {
            duration = String(Int((end.timeIntervalSince(start) * 1000).rounded()))
        } else {
            duration = "null"
        }
        let fields: [(String, String)] = [
            ("id", Self.quote(record.id)),
            ("kind", Self.quote(spec?.metadata?["knap_run_id"] != nil ? "knap_run" : "job")),
            ("job_type", Self.quote(record.jobType)),
            ("status", Self.quote(record.status.rawValue)),
            ("model", Self.quote(spec?.model ?? "auto")),
            ("created_at", Self.quote(ISO8601.string(record.createdAt))),
            ("duration_ms", duration),
            ("error", record.error.map(Self.quote) ?? "null"),
            ("sandbox_id", record.sandboxId.map(Self.quote) ?? "null"),
            ("tools", "[" + tools.map(Self.quote).joined(separator: ",") + "]"),
        ]
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    static func quote(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }

    static func json(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
