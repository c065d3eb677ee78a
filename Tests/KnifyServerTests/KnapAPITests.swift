import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KnifyServer
import Storage
import Testing

/// The Knaps API over HTTP in-process: tokens, CRUD and permissions, the `{"detail"}` errors, the per-client limit,
/// and runs against real sandboxes (offline agent).
@Suite(.serialized) struct KnapAPITests {
    /// A client for a user (and org) in the harness's store, and a token for it from the token endpoint.
    static func client(_ harness: APIHarness, user: String, org: String? = nil, admin: Bool = false) async throws -> (id: String, secret: String) {
        let (secret, record) = ClientRecord.make(name: "test", userId: user, org: org, orgAdmin: admin)
        try await harness.services.store.insertClient(record)
        return (record.id, secret)
    }

    static func token(_ client: any TestClientProtocol, _ credentials: (id: String, secret: String)) async throws -> String {
        let reply = try await client.form("/api/oauth/token", "grant_type=client_credentials&client_id=\(credentials.id)&client_secret=\(credentials.secret)")
        #expect(reply.status == .ok, "\(reply.text)")
        return try #require(try reply.object["access_token"] as? String)
    }

    @Test func theTokenEndpointSpeaksOAuthAndEveryRefusalIsADetail() async throws {
        let harness = try await APIHarness()
        let credentials = try await Self.client(harness, user: "alice", org: "acme")
        try await harness.test { client in
            let reply = try await client.form("/api/oauth/token", "grant_type=client_credentials&client_id=\(credentials.id)&client_secret=\(credentials.secret)")
            #expect(reply.status == .ok)
            #expect(reply.headers[.cacheControl] == "no-store")
            let grant = try reply.object
            #expect(Set(grant.keys) == ["access_token", "token_type", "expires_in", "refresh_token", "scope"])
            #expect(grant["token_type"] as? String == "Bearer" && grant["expires_in"] as? Int == 3600)
            let access = try #require(grant["access_token"] as? String)
            let refresh = try #require(grant["refresh_token"] as? String)
            try await client.call(.get, "/api/studio/knap-tools", key: access).expectStatus(.ok)

            // HTTP Basic client authentication, as RFC 6749 allows.
            let basic = Data("\(credentials.id):\(credentials.secret)".utf8).base64EncodedString()
            try await client.form("/api/oauth/token", "grant_type=client_credentials", headers: [.authorization: "Basic \(basic)"]).expectStatus(.ok)

            let refreshed = try await client.form("/api/oauth/token", "grant_type=refresh_token&refresh_token=\(refresh)")
            #expect(refreshed.status == .ok)
            try await client.form("/api/oauth/token", "grant_type=refresh_token&refresh_token=\(refresh)").expectDetail(.unauthorized, "refresh token")

            try await client.form("/api/oauth/token", "grant_type=client_credentials&client_id=\(credentials.id)&client_secret=wrong")
                .expectDetail(.unauthorized, "invalid client credentials")
            try await client.form("/api/oauth/token", "client_id=\(credentials.id)").expectDetail(.badRequest, "grant_type is required")
            try await client.form("/api/oauth/token", "grant_type=password").expectDetail(.badRequest, "unsupported grant_type")
            try await client.form("/api/oauth/token", "grant_type=client_credentials&client_id=%zz").expectDetail(.badRequest, "form-urlencoded")

            try await client.call(.get, "/api/studio/knap-tools").expectDetail(.unauthorized, "Bearer")
            try await client.call(.get, "/api/studio/knap-tools", key: "not-a-token").expectDetail(.unauthorized, "malformed")
            // A Knify API key is not a Knaps token.
            try await client.call(.get, "/api/studio/knap-tools", key: harness.admin).expectDetail(.unauthorized, "malformed")
            try await client.call(.get, "/api/studio/no-such-route", key: access).expectDetail(.notFound, nil)
            try await client.form("/api/oauth/revoke", "token=\(access)").expectStatus(.ok)
            try await client.call(.get, "/api/studio/knap-tools", key: access).expectDetail(.unauthorized, "revoked")
        }
    }

    @Test func crudFollowsOwnershipAndVisibility() async throws {
        let harness = try await APIHarness()
        let aliceClient = try await Self.client(harness, user: "alice", org: "acme")
        let bobClient = try await Self.client(harness, user: "bob", org: "acme", admin: true)
        let carolClient = try await Self.client(harness, user: "carol", org: "globex")
        try await harness.test { client in
            let alice = try await Self.token(client, aliceClient)
            let bob = try await Self.token(client, bobClient)
            let carol = try await Self.token(client, carolClient)

            let created = try await client.call(.post, "/api/studio/knap-tools", key: alice, json: """
                {"name": "Weekly digest", "schedule_type": "scheduled", "visibility": "acme",
                 "tool_metadata": {"action_description": "Summarise the week", "schedule_description": "every Monday at 9am",
                                   "tool_types": ["github"]}, "timezone": "Europe/Berlin"}
                """)
            #expect(created.status == .created, "\(created.text)")
            let knap = try created.object
            #expect(Set(knap.keys) == ["uuid", "name", "creation_user_id", "schedule_type", "is_active", "visibility",
                                      "can_toggle_default_active", "active_by_default", "tool_metadata", "creation_timestamp",
                                      "updated_at", "schedule_info", "next_run_at", "agent", "model", "timezone"])
            let uuid = try #require(knap["uuid"] as? String)
            let info = try #require(knap["schedule_info"] as? [String: Any])
            #expect(info["schedule_type"] as? String == "weekly" && info["schedule_time"] as? String == "09:00")
            #expect(info["days_of_week"] as? [Int] == [1])
            #expect((knap["next_run_at"] as? String)?.hasSuffix("Z") == true)
            #expect(knap["model"] is NSNull)

            let listed = try await client.call(.get, "/api/studio/knap-tools", key: bob).object
            #expect(Set(listed.keys) == ["my_knaps", "organization_knaps", "public_knaps"])
            let groups = try #require(listed["organization_knaps"] as? [[String: Any]])
            #expect(groups.first?["org_name"] as? String == "acme")
            #expect(((groups.first?["knaps"] as? [[String: Any]])?.first?["uuid"] as? String) == uuid)

            try await client.call(.get, "/api/studio/knap-tools/\(uuid)", key: carol).expectDetail(.notFound, "no knap")
            try await client.call(.patch, "/api/studio/knap-tools/\(uuid)", key: carol, json: #"{"name":"x"}"#).expectDetail(.notFound, nil)
            let renamed = try await client.call(.patch, "/api/studio/knap-tools/\(uuid)", key: bob, json: #"{"name":"Renamed"}"#)
            #expect(renamed.status == .ok)
            #expect(try renamed.object["name"] as? String == "Renamed")
            #expect(try (renamed.object["tool_metadata"] as? [String: Any])?["tool_types"] as? [String] == ["github"])
            try await client.call(.put, "/api/studio/knap-tools/\(uuid)", key: alice, json: #"{"visibility":"public"}"#)
                .expectDetail(.badRequest, "visibility cannot change")
            try await client.call(.put, "/api/studio/knap-tools/\(uuid)", key: alice, json: #"{"is_active":"yes"}"#)
                .expectDetail(.badRequest, "is_active must be true or false")
            try await client.call(.post, "/api/studio/knap-tools", key: alice, json: #"{"name":"x","tool_metadata":{"action_description":"y","schedule_description":"every blue moon"}}"#)
                .expectDetail(.badRequest, "Accepted forms")
            try await client.call(.post, "/api/studio/knap-tools", key: alice, json: "{nope").expectDetail(.badRequest, "not valid JSON")

            let publicOne = try await client.call(.post, "/api/studio/knap-tools", key: carol, json: """
                {"name": "Carol's", "visibility": "public", "tool_metadata": {"action_description": "x"}}
                """).object
            let publicUUID = try #require(publicOne["uuid"] as? String)
            try await client.call(.get, "/api/studio/knap-tools/\(publicUUID)", key: alice).expectStatus(.ok)
            try await client.call(.delete, "/api/studio/knap-tools/\(publicUUID)", key: alice).expectDetail(.forbidden, "owner")
            try await client.call(.delete, "/api/studio/knap-tools/\(uuid)", key: bob).expectStatus(.ok)
            try await client.call(.get, "/api/studio/knap-tools/\(uuid)", key: alice).expectDetail(.notFound, nil)
        }
    }

    @Test func eachClientHasItsOwnPerMinuteLimit() async throws {
        let harness = try await APIHarness(knapsRateLimit: 3)
        let first = try await Self.client(harness, user: "alice")
        let second = try await Self.client(harness, user: "bob")
        try await harness.test { client in
            let alice = try await Self.token(client, first)
            let bob = try await Self.token(client, second)
            for remaining in [2, 1, 0] {
                let reply = try await client.call(.get, "/api/studio/knap-tools", key: alice)
                #expect(reply.status == .ok)
                #expect(reply.headers[HTTPField.Name("X-RateLimit-Remaining")!] == String(remaining))
            }
            let limited = try await client.call(.get, "/api/studio/knap-tools", key: alice)
            try limited.expectDetail(.tooManyRequests, "per minute")
            let retry = try #require(limited.headers[.retryAfter].flatMap(Int.init))
            #expect((1...60).contains(retry))
            try await client.call(.get, "/api/studio/knap-tools", key: bob).expectStatus(.ok)
        }
    }

    @Test func aStreamedRunThenItsContinuationInTheSameSandbox() async throws {
        let harness = try await APIHarness()
        let credentials = try await Self.client(harness, user: "alice", org: "acme")
        try await harness.test { client in
            let token = try await Self.token(client, credentials)
            let knap = try await client.call(.post, "/api/studio/knap-tools", key: token, json: """
                {"name": "Digest", "tool_metadata": {"action_description": "Write a digest", "tool_types": ["files", "shell"]}}
                """).object
            let uuid = try #require(knap["uuid"] as? String)
            let prompt = "Write the digest\\n@@write digest.md\\n# Digest\\n@@end\\n@@run cat digest.md"
            let reply = try await client.call(.post, "/api/knap-tools/run", key: token, json: """
                {"knap_uuid": "\(uuid)", "messages": [{"role": "user", "content": "\(prompt)"}]}
                """)
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply.headers[.contentType]?.hasPrefix("text/event-stream") == true)
            let events = try SSEFrame.parse(reply.text)
            #expect(events.first?.event == "run_started")
            #expect(events.last?.event == "done")
            #expect(events.allSatisfy { $0.data["type"] as? String == $0.event })
            let started = try #require(events.first?.data)
            let chatId = try #require(started["chat_id"] as? String)
            let firstJob = try #require(started["job_id"] as? String)
            #expect(events.last?.data["status"] as? String == "completed")
            #expect(events.last?.data["chat_id"] as? String == chatId)
            let tools = events.filter { $0.event == "tool_execution" }
            #expect(tools.map { $0.data["tool_name"] as? String } == ["write_file", "run_shell_command"])
            #expect(tools.allSatisfy { $0.data["status"] as? String == "running" && ($0.data["queryUuid"] as? String)?.isEmpty == false })
            let results = events.filter { $0.event == "tool_result" }
            #expect(results.count == 2)
            #expect(results.map { $0.data["queryUuid"] as? String } == tools.map { $0.data["queryUuid"] as? String })
            #expect(results.last.map { "\($0.data["result"] ?? "")".contains("# Digest") } == true)
            #expect(events.contains { $0.event == "message" && ($0.data["content"] as? String) == "Working on: Write the digest" })
            // The knap's instructions and tools reached the agent.
            let spec = try #require(try await harness.services.store.job(id: firstJob)?.specJSON)
            #expect(spec.contains("Write a digest") && spec.contains("files, shell"))

            let next = try await client.call(.post, "/api/knap-tools/run", key: token, json: """
                {"chat_id": "\(chatId)", "stream_updates": false, "messages": [{"role": "user", "content": "Now count lines\\n@@run wc -l digest.md"}]}
                """)
            #expect(next.status == .ok, "\(next.text)")
            let summary = try next.object
            #expect(summary["chat_id"] as? String == chatId && summary["status"] as? String == "completed")
            let messages = try #require(summary["messages"] as? [[String: Any]]).compactMap { $0["content"] as? String }
            #expect(messages.first?.hasPrefix("Resuming session") == true, "\(messages)")
            let calls = try #require(summary["tool_calls"] as? [[String: Any]])
            #expect(calls.count == 1 && "\(calls[0]["result"] ?? "")".contains("1 digest.md"))
            let secondJob = try #require(summary["job_id"] as? String)
            let parent = try #require(try await harness.services.store.job(id: firstJob))
            let child = try #require(try await harness.services.store.job(id: secondJob))
            #expect(child.sandboxId == parent.sandboxId && child.parentJobId == parent.id)

            let runs = try await client.call(.get, "/api/studio/knap-tools/\(uuid)/runs", key: token).object
            let list = try #require(runs["runs"] as? [[String: Any]])
            #expect(list.map { $0["job_id"] as? String } == [secondJob, firstJob])
            #expect(list.allSatisfy { $0["status"] as? String == "completed" && $0["chat_id"] as? String == chatId })

            // Both turns were counted (other tests in this process may add more).
            let metrics = try await client.call(.get, "/metrics", key: harness.admin).text
            let line = try #require(metrics.split(separator: "\n").first { $0.hasPrefix(#"knify_knap_runs_total{trigger="api"}"#) })
            let value = try #require(line.split(separator: " ").last.flatMap { Double($0) })
            #expect(value >= 2, "\(line)")

            try await client.call(.post, "/api/knap-tools/run", key: token, json: #"{"chat_id": "chat_nope", "messages": [{"role":"user","content":"hi"}]}"#)
                .expectDetail(.notFound, "no chat")
            try await client.call(.post, "/api/knap-tools/run", key: token, json: #"{"messages": []}"#).expectDetail(.badRequest, "knap_uuid")
            try await client.call(.post, "/api/knap-tools/run", key: token, json: #"{"agent": "user_exam", "messages": [{"role":"user","content":"hi"}]}"#)
                .expectDetail(.badRequest, "agent must be one of cursor_task, claude_task, gemini_task")
        }
    }

    @Test func aMeetingTranscriptionStartsTheMatchingKnaps() async throws {
        let harness = try await APIHarness()
        let aliceClient = try await Self.client(harness, user: "alice", org: "acme")
        let carolClient = try await Self.client(harness, user: "carol", org: "globex")
        try await harness.test { client in
            let alice = try await Self.token(client, aliceClient)
            let carol = try await Self.token(client, carolClient)
            func knap(_ key: String, _ body: String) async throws -> String {
                let reply = try await client.call(.post, "/api/studio/knap-tools", key: key, json: body)
                #expect(reply.status == .created, "\(reply.text)")
                return try #require(try reply.object["uuid"] as? String)
            }
            let notes = try await knap(alice, #"{"name":"Notes","schedule_type":"post_meeting_transcription","tool_metadata":{"action_description":"Write meeting notes"}}"#)
            _ = try await knap(alice, #"{"name":"Off","schedule_type":"post_meeting_transcription","is_active":false,"tool_metadata":{"action_description":"x"}}"#)
            _ = try await knap(alice, #"{"name":"Manual","tool_metadata":{"action_description":"x"}}"#)
            _ = try await knap(carol, #"{"name":"Carol's","schedule_type":"post_meeting_transcription","tool_metadata":{"action_description":"x"}}"#)

            let body = #"{"meeting_id": "m-42", "title": "Planning", "transcript": "Alice: ship Friday.\nBob: agreed."}"#
            let reply = try await client.call(.post, "/api/studio/knap-tools/events/meeting-transcription", key: alice, json: body)
            #expect(reply.status == .ok, "\(reply.text)")
            let runs = try #require(try reply.object["runs"] as? [[String: Any]])
            #expect(runs.map { $0["knap_uuid"] as? String } == [notes])
            let jobId = try #require(runs.first?["job_id"] as? String)
            for await _ in try await harness.services.jobs.follow(jobId, after: 0) {}
            let job = try #require(try await harness.services.store.job(id: jobId))
            #expect(job.status == .completed)
            #expect(job.specJSON.contains("ship Friday") && job.specJSON.contains("Write meeting notes"))

            // The same event again (a retried webhook) starts nothing new.
            let again = try await client.call(.post, "/api/studio/knap-tools/events/meeting-transcription", key: alice, json: body).object
            #expect((again["runs"] as? [[String: Any]])?.map { $0["run_id"] as? String } == runs.map { $0["run_id"] as? String })
            let listed = try await client.call(.get, "/api/studio/knap-tools/\(notes)/runs", key: alice).object
            #expect((listed["runs"] as? [[String: Any]])?.count == 1)

            try await client.call(.post, "/api/studio/knap-tools/events/meeting-transcription", key: alice, json: #"{"meeting_id": "m"}"#)
                .expectDetail(.badRequest, "transcript is required")
        }
    }
}

/// One Server-Sent Event: its `event:` name and its `data:` JSON.
struct SSEFrame {
    var event: String
    var data: [String: Any]

    static func parse(_ text: String) throws -> [SSEFrame] {
        try text.components(separatedBy: "\n\n").compactMap { block in
            var event: String?
            var data = ""
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data += line.dropFirst(6) }
            }
            guard let event else { return nil }
            let object = try #require(try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any])
            return SSEFrame(event: event, data: object)
        }
    }
}

extension TestClientProtocol {
    func form(_ uri: String, _ body: String, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers = extra
        headers[.contentType] = "application/x-www-form-urlencoded"
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
    }
}

extension TestResponse {
    func expectStatus(_ status: HTTPResponse.Status, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(self.status == status, "\(text)", sourceLocation: sourceLocation)
    }

    /// Knapsack's error shape: exactly `{"detail": …}`.
    func expectDetail(_ status: HTTPResponse.Status, _ contains: String?, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(self.status == status, "\(text)", sourceLocation: sourceLocation)
        let object = try object
        #expect(Set(object.keys) == ["detail"], "\(text)", sourceLocation: sourceLocation)
        if let contains {
            #expect((object["detail"] as? String)?.contains(contains) == true, "\(text)", sourceLocation: sourceLocation)
        }
    }
}
