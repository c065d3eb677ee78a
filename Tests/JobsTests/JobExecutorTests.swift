import Agents
import DockerEngine
import Foundation
import Jobs
import KnifyTestSupport
import Storage
import Testing

@Suite("Jobs end to end in real sandboxes with the offline agent", .timeLimit(.minutes(3)))
struct JobExecutorTests {
    static let agentTypes = ["cursor_task", "claude_task", "gemini_task"]

    func messages(_ events: [[String: Any]]) -> [String] {
        events.compactMap { $0["type"] as? String == "agent_message" ? $0["message"] as? String : nil }
    }

    @Test("a job runs the agent: events, artifacts, session id, stages", arguments: agentTypes)
    func runs(jobType: String) async throws {
        try await JobHarness().run { harness in
            let submitted = try await harness.executor.submit(JobSpec(jobType: jobType, prompt: "Write a fibonacci script"), tenant: "ws_a")
            #expect(submitted.id.hasPrefix("job_"))
            let (job, events) = try await harness.finish(submitted.id)

            #expect(job.status == .completed, "error: \(job.error ?? "")")
            #expect(job.startedAt != nil && job.completedAt != nil)
            #expect(job.sandboxId?.hasPrefix("sbx_") == true)
            let session = try #require(job.agentSessionId)
            #expect(UUID(uuidString: session) != nil)
            #expect(messages(events).first == "Working on: Write a fibonacci script")
            #expect(events.contains { $0["type"] as? String == "tool_use" && $0["tool"] as? String == "write_file" })
            #expect(events.contains { $0["type"] as? String == "tool_result" })
            #expect(events.last?["type"] as? String == "result")

            let artifacts = try await harness.store.artifacts(jobId: job.id)
            let task = try #require(artifacts.first { $0.path == "AGENT_TASK.md" })
            #expect(task.kind == "text")
            #expect(String(decoding: task.content ?? Data(), as: UTF8.self).contains("Write a fibonacci script"))

            let stages = try await harness.store.stages(jobId: job.id).map(\.stage)
            #expect(stages == ["queued", "sandbox_created", "agent_started", "artifacts_collected", "sandbox_paused", "completed"])
            #expect(try await harness.sandboxes.sandbox(try #require(job.sandboxId))?.state == .paused)
        }
    }

    @Test("continue runs in the same sandbox and session and remembers the previous turn", arguments: agentTypes)
    func continues(jobType: String) async throws {
        try await JobHarness().run { harness in
            let first = try await harness.finish(try await harness.executor.submit(JobSpec(jobType: jobType, prompt: "Build the parser"), tenant: "ws_a").id).job
            let child = try await harness.executor.continueJob(first.id, spec: JobSpec(jobType: jobType, prompt: "Now add tests"), tenant: "ws_a")
            #expect(child.parentJobId == first.id)
            #expect(child.sandboxId == first.sandboxId)
            let (second, events) = try await harness.finish(child.id)
            #expect(second.status == .completed, "error: \(second.error ?? "")")
            #expect(second.agentSessionId == first.agentSessionId)
            #expect(messages(events).first == "Resuming session \(first.agentSessionId ?? ""). Previous prompt: Build the parser")
            #expect(try await harness.store.stages(jobId: child.id).map(\.stage).contains("sandbox_reused"))

            // A continue must name the parent's job type.
            let other = Self.agentTypes.first { $0 != jobType } ?? "cursor_task"
            let mismatch = await #expect(throws: JobError.self) {
                try await harness.executor.continueJob(second.id, spec: JobSpec(jobType: other, prompt: "x"), tenant: "ws_a")
            }
            #expect(mismatch?.code == .invalidSpec)
        }
    }

    @Test("a continue thaws its sandbox as it is submitted; cancelled while queued, the sandbox is frozen again")
    func cancelQueuedContinue() async throws {
        try await JobHarness(concurrency: 1).run { harness in
            let first = try await harness.finish(try await harness.executor.submit(JobSpec(jobType: "cursor_task", prompt: "one"), tenant: "ws_a").id).job
            let sandboxId = try #require(first.sandboxId)
            let container = "knify-\(sandboxId)"
            // The one slot is taken, so the continue waits in the queue.
            let busy = try await harness.executor.submit(JobSpec(jobType: "cursor_task", prompt: "busy\n@@sleep 300"), tenant: "ws_a")
            for await item in try await harness.executor.follow(busy.id, after: 0) { if case .event = item { break } }
            let queued = try await harness.executor.continueJob(first.id, spec: JobSpec(jobType: "cursor_task", prompt: "two"), tenant: "ws_a")
            #expect(queued.status == .pending)
            let cancelled = try await harness.executor.cancel(queued.id, tenant: "ws_a")
            #expect(cancelled.status == .cancelled)
            #expect(try await harness.sandboxes.sandbox(sandboxId)?.state == .paused)
            #expect(try await TestEngine.settledPaused(container, expected: true))
            _ = try await harness.executor.cancel(busy.id, tenant: "ws_a")
        }
    }

    @Test("cleanup destroys the sandbox; a second cleanup says so; continue is then refused")
    func cleanup() async throws {
        try await JobHarness().run { harness in
            let job = try await harness.finish(try await harness.executor.submit(JobSpec(jobType: "cursor_task", prompt: "hi"), tenant: "ws_a").id).job
            let cleaned = try await harness.executor.cleanup(job.id, tenant: "ws_a")
            #expect(cleaned.alreadyCleaned == false)
            let again = try await harness.executor.cleanup(job.id, tenant: "ws_a")
            #expect(again.alreadyCleaned)
            let refused = await #expect(throws: JobError.self) {
                try await harness.executor.continueJob(job.id, spec: JobSpec(jobType: "cursor_task", prompt: "more"), tenant: "ws_a")
            }
            #expect(refused?.code == .conflict)
            let gone = await #expect(throws: DockerError.self) {
                try await TestEngine.client.inspectContainer("knify-\(job.sandboxId ?? "")")
            }
            #expect(gone?.code == .notFound)
        }
    }

    @Test("cancel stops a running agent inside its sandbox")
    func cancel() async throws {
        try await JobHarness().run { harness in
            let submitted = try await harness.executor.submit(JobSpec(jobType: "claude_task", prompt: "wait\n@@sleep 300"), tenant: "ws_a")
            // The first agent event proves the agent runs; then cancel.
            for await item in try await harness.executor.follow(submitted.id, after: 0) {
                if case .event = item { break }
            }
            let cancelled = try await harness.executor.cancel(submitted.id, tenant: "ws_a")
            #expect(cancelled.status == .cancelled)
            #expect(try await harness.store.stages(jobId: submitted.id).map(\.stage).contains("cancelled"))
        }
    }

    @Test("a follower more than its backlog behind is ended early, without done, and resumes from the store")
    func laggingFollower() async throws {
        try await JobHarness().run { harness in
            let submitted = try await harness.executor.submit(JobSpec(jobType: "cursor_task", prompt: "Write a fibonacci script"), tenant: "ws_a")
            // Subscribed now, read only once the job is over: its backlog of 2 kept the newest two items.
            let lagging = try await harness.executor.follow(submitted.id, after: 0, backlog: 2)
            let (job, all) = try await harness.finish(submitted.id)
            #expect(job.status == .completed, "error: \(job.error ?? "")")
            #expect(all.count > 2)

            var seen: [Int] = []
            var ended = false
            for await item in lagging {
                switch item {
                case .event(let row): seen.append(row.sequence)
                case .done: ended = true
                case .heartbeat: break
                }
            }
            #expect(!ended, "a feed that lost events must not claim the job's end")
            #expect(seen == Array(seen.indices.map { $0 + 1 }), "what it gave is contiguous from the start: \(seen)")
            #expect(seen.count < all.count)

            var rest: [Int] = []
            for await item in try await harness.executor.follow(submitted.id, after: seen.last ?? 0) {
                switch item {
                case .event(let row): rest.append(row.sequence)
                case .done(let status): ended = status == .completed
                case .heartbeat: break
                }
            }
            #expect(ended)
            #expect(seen + rest == Array(1...all.count))
        }
    }

    @Test("a follower that asks for a heartbeat gets them while the agent is quiet, and done last; one that stops reading is unsubscribed")
    func heartbeats() async throws {
        try await JobHarness().run { harness in
            let submitted = try await harness.executor.submit(JobSpec(jobType: "gemini_task", prompt: "quiet\n@@sleep 1"), tenant: "ws_a")
            // A follower that leaves after the first item (an SSE client that disconnects): its subscription ends.
            for await _ in try await harness.executor.follow(submitted.id, after: 0, heartbeat: .milliseconds(100)) { break }
            while await harness.executor.hub.subscriberCount > 0 { await Task.yield() }

            var items: [JobEventHub.Item] = []
            for await item in try await harness.executor.follow(submitted.id, after: 0, heartbeat: .milliseconds(100)) {
                items.append(item)
            }
            #expect(items.contains(.heartbeat), "no heartbeat in a turn that sleeps a second")
            #expect(items.last == .done(.completed))
            #expect(await harness.executor.hub.subscriberCount == 0)
        }
    }

    @Test("graceful shutdown: a running job past the grace ends cancelled with a reason; a queued one stays queued")
    func shutdown() async throws {
        try await JobHarness(concurrency: 1).run { harness in
            let running = try await harness.executor.submit(JobSpec(jobType: "cursor_task", prompt: "wait\n@@sleep 300"), tenant: "ws_a")
            let queued = try await harness.executor.submit(JobSpec(jobType: "cursor_task", prompt: "later"), tenant: "ws_a")
            for await item in try await harness.executor.follow(running.id, after: 0) {
                if case .event = item { break }
            }
            await harness.executor.shutdown(grace: .milliseconds(100))
            let stopped = try await harness.executor.visibleJob(running.id, tenant: nil)
            #expect(stopped.status == .cancelled)
            #expect(stopped.error == "server shutting down")
            #expect(try await harness.executor.visibleJob(queued.id, tenant: nil).status == .pending)
        }
    }

    @Test("a job over its timeout fails with TIMEOUT")
    func timeout() async throws {
        try await JobHarness(timeout: .seconds(2)).run { harness in
            let submitted = try await harness.executor.submit(JobSpec(jobType: "gemini_task", prompt: "slow\n@@sleep 300"), tenant: "ws_a")
            let (job, _) = try await harness.finish(submitted.id)
            #expect(job.status == .failed)
            #expect(job.errorCode == "TIMEOUT")
            #expect(job.error?.contains("timed out") == true)
        }
    }

    @Test("an agent that exits non-zero fails the job with its stderr as the reason", arguments: agentTypes)
    func agentFailure(jobType: String) async throws {
        try await JobHarness().run { harness in
            let submitted = try await harness.executor.submit(JobSpec(jobType: jobType, prompt: "@@fail 3 the model is overloaded"), tenant: "ws_a")
            let (job, _) = try await harness.finish(submitted.id)
            #expect(job.status == .failed)
            #expect(job.error?.contains("the model is overloaded") == true, "error: \(job.error ?? "")")
        }
    }

    @Test("engine down: the job fails with SANDBOX_ERROR, not a hang")
    func engineDown() async throws {
        let harness = try JobHarness(client: DockerClient(socketPath: "/tmp/knify-no-engine-\(UUID().uuidString.prefix(8)).sock"))
        let submitted = try await harness.executor.submit(JobSpec(jobType: "cursor_task", prompt: "hi"), tenant: "ws_a")
        let (job, _) = try await harness.finish(submitted.id)
        #expect(job.status == .failed)
        #expect(job.errorCode == "SANDBOX_ERROR")
    }

    @Test("vendor keys reach the agent but never the store, the events or the artifacts")
    func secrets() async throws {
        let secret = "sk-knify-test-\(UUID().uuidString)"
        try await JobHarness(keys: ["CURSOR_API_KEY": secret]).run { harness in
            let prompt = "@@run echo key=$CURSOR_API_KEY; echo $CURSOR_API_KEY > leaked.txt"
            let (job, events) = try await harness.finish(try await harness.executor.submit(JobSpec(jobType: "cursor_task", prompt: prompt), tenant: "ws_a").id)
            #expect(job.status == .completed, "error: \(job.error ?? "")")
            // The key was in the agent's environment: the command printed it (redacted by Knify).
            let output = events.compactMap { event in
                event["type"] as? String == "tool_result" ? (try? JSONSerialization.data(withJSONObject: event)).map { String(decoding: $0, as: UTF8.self) } : nil
            }.joined()
            #expect(output.contains("key=[REDACTED]"))
            let database = try Data(contentsOf: URL(fileURLWithPath: harness.databasePath))
            let wal = (try? Data(contentsOf: URL(fileURLWithPath: harness.databasePath + "-wal"))) ?? Data()
            #expect(database.range(of: Data(secret.utf8)) == nil)
            #expect(wal.range(of: Data(secret.utf8)) == nil)
            // The file the agent wrote holds the key: as an artifact it is redacted too.
            let leaked = try await harness.store.artifacts(jobId: job.id).first { $0.path == "leaked.txt" }
            #expect(leaked.map { !String(decoding: $0.content ?? Data(), as: UTF8.self).contains(secret) } ?? true)
        }
    }

    @Test("fifty jobs with a concurrency limit of eight all finish")
    func concurrency() async throws {
        try await JobHarness(concurrency: 8).run { harness in
            var ids: [String] = []
            for index in 0..<50 {
                ids.append(try await harness.executor.submit(JobSpec(jobType: Self.agentTypes[index % 3], prompt: "job \(index)\n@@run true"), tenant: "ws_a").id)
            }
            var statuses: [JobRecord.Status] = []
            for id in ids { statuses.append(try await harness.finish(id).job.status) }
            #expect(statuses.allSatisfy { $0 == .completed })
            for id in ids { _ = try await harness.executor.cleanup(id, tenant: "ws_a") }
        }
    }

    @Test("restart recovery: running jobs of a dead process fail with a reason, queued ones run")
    func recovery() async throws {
        try await JobHarness().run { first in
            var orphan = JobRecord(id: JobID.make(), tenant: "ws_a", jobType: "cursor_task", status: .running,
                                   specJSON: #"{"job_type":"cursor_task","prompt":"lost"}"#)
            orphan.node = first.node
            try await first.store.insertJob(orphan)
            var queued = JobRecord(id: JobID.make(), tenant: "ws_a", jobType: "cursor_task", specJSON: #"{"job_type":"cursor_task","prompt":"queued"}"#)
            queued.node = first.node
            try await first.store.insertJob(queued)

            let second = try JobHarness(store: (first.store, first.databasePath), node: first.node)
            try await second.executor.recover()
            let failed = try await second.executor.visibleJob(orphan.id, tenant: nil)
            #expect(failed.status == .failed)
            #expect(failed.error == "orchestrator restarted")
            #expect(try await second.finish(queued.id).job.status == .completed)
        }
    }

    @Test("invalid specs are refused with a reason", arguments: [
        (JobSpec(jobType: "mystery_task", prompt: "x"), "job_type"),
        (JobSpec(jobType: "cursor_task"), "prompt"),
        (JobSpec(jobType: "cursor_task", prompt: "   "), "prompt"),
        (JobSpec(jobType: "cursor_task", prompt: "x", model: "gpt-99"), "gpt-99"),
        (JobSpec(jobType: "user_exam"), "user_id"),
        (JobSpec(jobType: "user_exam", userId: "u1"), "time_range"),
        (JobSpec(jobType: "cursor_task", prompt: "x", workspacePath: "/workspaces/../etc"), "workspace_path"),
        (JobSpec(jobType: "cursor_task", prompt: "x", workspacePath: "/etc/passwd"), "workspace_path"),
        (JobSpec(jobType: "cursor_task", prompt: "x", sessionId: "../../x"), "session_id"),
    ])
    func invalid(spec: JobSpec, mentions: String) async throws {
        let harness = try JobHarness()
        let error = await #expect(throws: JobError.self) { try await harness.executor.submit(spec, tenant: "ws_a") }
        #expect(error?.code == .invalidSpec)
        #expect(error?.message.contains(mentions) == true, "\(error?.message ?? "")")
    }

    @Test("a workspace is copied into the sandbox as its own copy; the original is untouched")
    func workspace() async throws {
        try await JobHarness().run { harness in
            let project = harness.workspacesRoot.appendingPathComponent("my-project")
            try FileManager.default.createDirectory(at: project, withIntermediateDirectories: true)
            try "print('hi')\n".write(to: project.appendingPathComponent("main.py"), atomically: true, encoding: .utf8)
            let spec = JobSpec(jobType: "cursor_task", prompt: "@@run cat main.py && echo changed >> main.py", workspacePath: "/workspaces/my-project")
            let (job, events) = try await harness.finish(try await harness.executor.submit(spec, tenant: "ws_a").id)
            #expect(job.status == .completed, "error: \(job.error ?? "")")
            #expect(events.contains { event in
                (try? JSONSerialization.data(withJSONObject: event)).map { String(decoding: $0, as: UTF8.self).contains("print('hi')") } ?? false
            })
            #expect(try String(contentsOf: project.appendingPathComponent("main.py"), encoding: .utf8) == "print('hi')\n")
            let changed = try await harness.store.artifacts(jobId: job.id).map(\.path)
            #expect(changed == ["main.py"])
        }
    }

    @Test("user_exam summarises one user's jobs in a sandbox: result.json and report.md")
    func userExam() async throws {
        try await JobHarness().run { harness in
            let start = Date().addingTimeInterval(-1)
            let metadata: JSONValue = .object(["user_id": .string("user_42")])
            let prompts = ["first task", "second task", "@@fail 2 broken <pipe|line>"]
            for prompt in prompts {
                let id = try await harness.executor.submit(JobSpec(jobType: "cursor_task", prompt: prompt, metadata: metadata), tenant: "ws_a").id
                _ = try await harness.finish(id)
            }
            _ = try await harness.finish(try await harness.executor.submit(JobSpec(jobType: "cursor_task", prompt: "someone else"), tenant: "ws_a").id)

            let exam = JobSpec(jobType: "user_exam", userId: "user_42", timeRange: .init(from: start, to: Date().addingTimeInterval(1)))
            let (job, _) = try await harness.finish(try await harness.executor.submit(exam, tenant: "ws_a").id)
            #expect(job.status == .completed, "error: \(job.error ?? "")")
            let artifacts = try await harness.store.artifacts(jobId: job.id)
            #expect(Set(artifacts.map(\.path)).isSuperset(of: ["result.json", "report.md"]))
            let resultData = try #require(artifacts.first { $0.path == "result.json" }?.content)
            #expect(artifacts.first { $0.path == "result.json" }?.kind == "json")
            let result = try #require(try JSONSerialization.jsonObject(with: resultData) as? [String: Any])
            #expect(result["user_id"] as? String == "user_42")
            #expect(result["total"] as? Int == 3)
            let byStatus = try #require(result["by_status"] as? [String: Int])
            #expect(byStatus["completed"] == 2 && byStatus["failed"] == 1)
            let failures = try #require(result["failures"] as? [[String: Any]])
            #expect((failures.first?["error"] as? String)?.contains("broken") == true)
            #expect((result["tools_used"] as? [String: Int])?["write_file"] == 3)  // the failing turn did its default work first
            let report = String(decoding: artifacts.first { $0.path == "report.md" }?.content ?? Data(), as: UTF8.self)
            #expect(report.contains("user_42"))
            #expect(!report.contains("<pipe"))
        }
    }

    @Test("large artifacts are kept in files under the data directory, binary-safe; small ones inline")
    func largeArtifacts() async throws {
        try await JobHarness().run { harness in
            let prompt = "@@run head -c 3000000 /dev/urandom > big.bin && echo small > small.txt"
            let (job, _) = try await harness.finish(try await harness.executor.submit(JobSpec(jobType: "cursor_task", prompt: prompt), tenant: "ws_a").id)
            #expect(job.status == .completed, "error: \(job.error ?? "")")
            let artifacts = try await harness.store.artifacts(jobId: job.id)
            let big = try #require(artifacts.first { $0.path == "big.bin" })
            #expect(big.kind == "binary" && big.size == 3_000_000 && big.content == nil && big.storedAt != nil)
            let bytes = try #require(try await harness.executor.artifact(job.id, path: "big.bin", tenant: nil)?.content)
            #expect(bytes.count == 3_000_000)
            #expect(try await harness.executor.artifact(job.id, path: "small.txt", tenant: nil)?.content == Data("small\n".utf8))
            #expect(try await harness.executor.artifact(job.id, path: "missing", tenant: nil)?.content == nil)
        }
    }
}
