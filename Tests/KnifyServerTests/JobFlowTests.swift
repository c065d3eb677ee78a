import Foundation
import Hummingbird
import HummingbirdTesting
import KnifyServer
import Storage
import Testing

@Suite("HTTP: job flows over real sandboxes", .serialized, .timeLimit(.minutes(3)))
struct JobFlowTests {
    /// Reads a job's SSE stream to its `done` message; answers the frames' ids and data objects.
    static func stream(_ client: any TestClientProtocol, _ id: String, key: String?, headers: HTTPFields = [:], query: String = "")
        async throws -> (ids: [Int], events: [[String: Any]], text: String)
    {
        let response = try await client.call(.get, "/jobs/\(id)/cursor/stream\(query)", key: key, headers: headers)
        #expect(response.status == .ok, "\(response.text)")
        #expect(response.headers[.contentType]?.hasPrefix("text/event-stream") == true)
        var ids: [Int] = []
        var events: [[String: Any]] = []
        for frame in response.text.components(separatedBy: "\n\n") where !frame.isEmpty {
            for line in frame.split(separator: "\n") {
                #expect(!line.hasPrefix("event:"), "frames carry no event field")
                if line.hasPrefix("id: ") { ids.append(Int(line.dropFirst(4)) ?? -1) }
                if line.hasPrefix("data: "),
                   let object = try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any] {
                    events.append(object)
                }
            }
        }
        return (ids, events, response.text)
    }

    @Test("create → stream to done → details, events, artifacts, raw download, cursor (normalized and raw) → continue → cleanup twice")
    func fullFlow() async throws {
        let harness = try await APIHarness()
        try await harness.test { client in
            let key = harness.writer
            let created = try await client.call(.post, "/jobs", key: key, json: #"""
                {"spec":{"job_type":"cursor_task","prompt":"fib\n@@write fibonacci.py\ndef fib(n): return n\n@@end\n@@write result.json\n{\"ok\": true}\n@@end","model":"sonnet-4.5","metadata":{"user_id":"user_123","priority":"high"}}}
                """#)
            #expect(created.status == .ok, "\(created.text)")
            let body = try created.object
            let id = try #require(body["job_id"] as? String)
            #expect(id.range(of: #"^job_[A-Za-z0-9]{16}$"#, options: .regularExpression) != nil)
            #expect(["pending", "running"].contains(body["status"] as? String))

            let streamed = try await Self.stream(client, id, key: key)
            #expect(streamed.ids == Array(1...streamed.ids.count), "ids are the events' sequence numbers")
            #expect(streamed.events.last?["type"] as? String == "done")
            #expect(streamed.events.last?["status"] as? String == "completed")
            #expect(streamed.events.contains { $0["type"] as? String == "tool_use" })

            let job = try await client.call(.get, "/jobs/\(id)", key: key).object
            for field in ["id", "spec", "status", "created_at", "started_at", "completed_at", "sandbox_id", "sandbox_state",
                          "cursor_session_id", "parent_job_id", "events", "artifacts", "error", "error_code"] {
                #expect(job.keys.contains(field), "GET /jobs/{id} lacks \(field)")
            }
            #expect(job["status"] as? String == "completed")
            #expect(job["sandbox_state"] as? String == "paused")
            #expect(job["error"] is NSNull)
            #expect((job["spec"] as? [String: Any])?["model"] as? String == "sonnet-4.5")
            #expect(Set(((job["artifacts"] as? [String: Any])?["files"] as? [String]) ?? []) == ["fibonacci.py", "result.json"])
            let stages = ((job["events"] as? [[String: Any]]) ?? []).compactMap { $0["stage"] as? String }
            #expect(stages == ["queued", "sandbox_created", "agent_started", "artifacts_collected", "sandbox_paused", "completed"])
            let events = try await client.call(.get, "/jobs/\(id)/events", key: key).object
            #expect(((events["events"] as? [[String: Any]]) ?? []).compactMap { $0["stage"] as? String } == stages)

            let artifacts = try await client.call(.get, "/jobs/\(id)/artifacts", key: key).object
            #expect(artifacts["fibonacci.py"] as? String == "def fib(n): return n\n")
            #expect((artifacts["result.json"] as? [String: Any])?["ok"] as? Bool == true)
            let download = try await client.call(.get, "/jobs/\(id)/artifacts/fibonacci.py", key: key)
            #expect(download.status == .ok)
            #expect(download.text == "def fib(n): return n\n")
            try await client.call(.get, "/jobs/\(id)/artifacts/missing.txt", key: key).expectError(.notFound, "NOT_FOUND")

            let cursor = try await client.call(.get, "/jobs/\(id)/cursor", key: key).object
            let normalized = try #require(cursor["events"] as? [[String: Any]])
            #expect(normalized.count == streamed.ids.count)
            #expect(normalized.allSatisfy { $0["type"] is String && $0["timestamp"] is String })
            let raw = try await client.call(.get, "/jobs/\(id)/cursor?raw=true", key: key).object
            let lines = try #require(raw["lines"] as? [String])
            #expect(!lines.isEmpty && lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })

            // Resume after the second event: only later ones are replayed.
            let resumed = try await Self.stream(client, id, key: key, headers: [.init("Last-Event-ID")!: "2"])
            #expect(resumed.ids == Array(3...streamed.ids.count))
            let byQuery = try await Self.stream(client, id, key: key, query: "?last_event_id=\(streamed.ids.count)")
            #expect(byQuery.ids.isEmpty && byQuery.events.count == 1)

            // Continue: same sandbox and session; job_type must match; a second turn sees the first turn's files.
            try await client.call(.post, "/jobs/\(id)/continue", key: key, json: #"{"spec":{"job_type":"claude_task","prompt":"x"}}"#)
                .expectError(.badRequest, "BAD_REQUEST", detailContains: "cursor_task")
            let next = try await client.call(.post, "/jobs/\(id)/continue", key: key,
                                             json: #"{"spec":{"job_type":"cursor_task","prompt":"tests\n@@run cat fibonacci.py"}}"#).object
            #expect(next["parent_job_id"] as? String == id)
            #expect(next["sandbox_id"] as? String == job["sandbox_id"] as? String)
            #expect(next["cursor_session_id"] as? String == job["cursor_session_id"] as? String)
            let nextId = try #require(next["job_id"] as? String)
            // The parent is finished, but its sandbox is busy with the child: a second continue conflicts until then.
            let nextStream = try await Self.stream(client, nextId, key: key)
            #expect(nextStream.events.last?["status"] as? String == "completed")
            #expect(nextStream.text.contains("def fib(n)"))

            let first = try await client.call(.post, "/jobs/\(id)/cleanup", key: key).object
            #expect(first["success"] as? Bool == true)
            #expect(first["message"] as? String == "Sandbox cleaned up successfully")
            let second = try await client.call(.post, "/jobs/\(id)/cleanup", key: key).object
            #expect(second["message"] as? String == "already cleaned")
            #expect(try await client.call(.get, "/jobs/\(id)", key: key).object["sandbox_state"] as? String == "cleaned")
            try await client.call(.post, "/jobs/\(nextId)/continue", key: key, json: #"{"spec":{"job_type":"cursor_task","prompt":"x"}}"#)
                .expectError(.conflict, "CONFLICT", detailContains: "cleaned")
        }
    }

    @Test("cancel stops a running job; continue of an unfinished job is 409; the stream ends with done: cancelled")
    func cancelFlow() async throws {
        let harness = try await APIHarness()
        try await harness.test { client in
            let key = harness.writer
            let id = try #require(try await client.call(.post, "/jobs", key: key,
                                                        json: #"{"spec":{"job_type":"claude_task","prompt":"wait\n@@sleep 300"}}"#).object["job_id"] as? String)
            // Wait for the agent's first event through the executor (the stream would only end with the job).
            for await item in try await harness.services.jobs.follow(id, after: 0) {
                if case .event = item { break }
            }
            try await client.call(.post, "/jobs/\(id)/continue", key: key, json: #"{"spec":{"job_type":"claude_task","prompt":"x"}}"#)
                .expectError(.conflict, "CONFLICT")
            let cancelled = try await client.call(.post, "/jobs/\(id)/cancel", key: key).object
            #expect(cancelled["status"] as? String == "cancelled")
            #expect(cancelled["id"] as? String == id)
            let streamed = try await Self.stream(client, id, key: key)
            #expect(streamed.events.last?["status"] as? String == "cancelled")
            _ = try await client.call(.post, "/jobs/\(id)/cleanup", key: key)
        }
    }

    @Test("pagination: newest first, totals and pages, filters, the last partial page")
    func pagination() async throws {
        let harness = try await APIHarness()
        try await harness.test { client in
            var ids: [String] = []
            for index in 0..<5 {
                let type = index % 2 == 0 ? "gemini_task" : "claude_task"
                let reply = try await client.call(.post, "/jobs", key: harness.writer, json: #"{"spec":{"job_type":"\#(type)","prompt":"p\#(index)"}}"#)
                ids.append(try #require(try reply.object["job_id"] as? String))
            }
            for id in ids { for await _ in try await harness.services.jobs.follow(id, after: 0) {} }
            let page1 = try await client.call(.get, "/jobs?limit=2", key: harness.writer).object
            let pagination = try #require(page1["pagination"] as? [String: Int])
            #expect(pagination == ["page": 1, "limit": 2, "total": 5, "pages": 3])
            #expect(((page1["data"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String } == [ids[4], ids[3]])
            let page3 = try await client.call(.get, "/jobs?limit=2&page=3", key: harness.writer).object
            #expect(((page3["data"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String } == [ids[0]])
            let beyond = try await client.call(.get, "/jobs?limit=2&page=9", key: harness.writer).object
            #expect((beyond["data"] as? [Any])?.isEmpty == true)
            let gemini = try await client.call(.get, "/jobs?job_type=gemini_task&status=completed", key: harness.writer).object
            #expect((gemini["pagination"] as? [String: Int])?["total"] == 3)
            let defaults = try await client.call(.get, "/jobs", key: harness.writer).object
            #expect((defaults["pagination"] as? [String: Int])?["limit"] == 20)
            for id in ids { _ = try await client.call(.post, "/jobs/\(id)/cleanup", key: harness.writer) }
        }
    }

    @Test("a stream token opens one job's stream without a header, and nothing else")
    func streamToken() async throws {
        let harness = try await APIHarness()
        try await harness.test { client in
            let id = try #require(try await client.call(.post, "/jobs", key: harness.writer,
                                                        json: #"{"spec":{"job_type":"gemini_task","prompt":"hi"}}"#).object["job_id"] as? String)
            let minted = try await client.call(.post, "/jobs/\(id)/stream-token", key: harness.reader).object
            let token = try #require(minted["token"] as? String)
            #expect(minted["stream_url"] as? String == "/jobs/\(id)/cursor/stream?token=\(token)")
            let streamed = try await Self.stream(client, id, key: nil, query: "?token=\(token)")
            #expect(streamed.events.last?["type"] as? String == "done")
            try await client.call(.get, "/jobs/\(id)?token=\(token)").expectError(.unauthorized, "UNAUTHORIZED")
            try await client.call(.get, "/jobs/\(id)/cursor/stream?token=\(token.dropLast(2))xx").expectError(.unauthorized, "UNAUTHORIZED")
            try await client.call(.post, "/jobs/\(id)/stream-token", key: harness.otherTenant).expectError(.notFound, "NOT_FOUND")
            _ = try await client.call(.post, "/jobs/\(id)/cleanup", key: harness.writer)
        }
    }

    @Test("workspaces: an upload is unpacked and a job sees it; malicious archives are 400; duplicates 409; other tenants cannot use it")
    func workspaces() async throws {
        let harness = try await APIHarness()
        try await harness.test { client in
            let archive = try tarGz { tar in
                tar.addDirectory("src")
                tar.addFile("src/seed.txt", contents: Array("seeded by upload\n".utf8))
            }
            let form = multipart(name: "proj-1", file: archive)
            let uploaded = try await client.execute(uri: "/workspaces", method: .post,
                                                    headers: [.authorization: "Bearer \(harness.writer)", .contentType: form.contentType],
                                                    body: form.body)
            #expect(uploaded.status == .ok, "\(uploaded.text)")
            let workspace = try uploaded.object
            #expect(workspace["path"] as? String == "/workspaces/proj-1")
            #expect((workspace["workspace_id"] as? String)?.hasPrefix("ws_") == true)
            let listed = try await client.call(.get, "/workspaces", key: harness.reader).object
            #expect(((listed["data"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String } == ["proj-1"])

            let again = try await client.execute(uri: "/workspaces", method: .post,
                                                 headers: [.authorization: "Bearer \(harness.writer)", .contentType: form.contentType], body: form.body)
            try again.expectError(.conflict, "CONFLICT")

            let id = try #require(try await client.call(.post, "/jobs", key: harness.writer, json: #"""
                {"spec":{"job_type":"gemini_task","prompt":"read\n@@run cat src/seed.txt","workspace_path":"/workspaces/proj-1"}}
                """#).object["job_id"] as? String)
            let streamed = try await JobFlowTests.stream(client, id, key: harness.writer)
            #expect(streamed.text.contains("seeded by upload"))
            try await client.call(.post, "/jobs", key: harness.otherTenant, json: #"""
                {"spec":{"job_type":"gemini_task","prompt":"x","workspace_path":"/workspaces/proj-1"}}
                """#).expectError(.badRequest, "BAD_REQUEST", detailContains: "no workspace")

            let notGzip = multipart(name: "plain", file: Array("just text".utf8))
            try await client.execute(uri: "/workspaces", method: .post,
                                     headers: [.authorization: "Bearer \(harness.writer)", .contentType: notGzip.contentType], body: notGzip.body)
                .expectError(.badRequest, "BAD_REQUEST", detailContains: "gzip")
            let escape = multipart(name: "evil", file: try tarGz { $0.addFile("../escape.txt", contents: [1]) })
            try await client.execute(uri: "/workspaces", method: .post,
                                     headers: [.authorization: "Bearer \(harness.writer)", .contentType: escape.contentType], body: escape.body)
                .expectError(.badRequest, "BAD_REQUEST", detailContains: "..")
            try await client.call(.post, "/workspaces", key: harness.writer, json: "{}").expectError(.badRequest, "BAD_REQUEST", detailContains: "multipart")
            _ = try await client.call(.post, "/jobs/\(id)/cleanup", key: harness.writer)
        }
    }
}
