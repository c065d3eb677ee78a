import Foundation
import Hummingbird
import HummingbirdTesting
import KnifyServer
import Storage
import Testing

@Suite("HTTP: auth, rate limits, errors", .serialized)
struct AuthAndErrorTests {
    @Test("GET / answers the reference's health document without a key")
    func health() async throws {
        try await APIHarness().test { client in
            let response = try await client.call(.get, "/")
            #expect(response.status == .ok)
            #expect(try response.object as NSDictionary == ["status": "ok", "version": "0.1.0"])
            #expect(response.headers[.init("X-Request-Id")!]?.hasPrefix("req_") == true)
            #expect(response.headers[.init("X-RateLimit-Limit")!] == nil)
        }
    }

    @Test("auth matrix: missing, malformed, unknown and revoked keys are 401; a missing scope is 403; another tenant's job is 404")
    func authMatrix() async throws {
        let harness = try await APIHarness()
        try await harness.test { client in
            try await client.call(.get, "/jobs").expectError(.unauthorized, "UNAUTHORIZED")
            try await client.call(.get, "/jobs", headers: [.authorization: "Basic abc"]).expectError(.unauthorized, "UNAUTHORIZED", detailContains: "Bearer")
            try await client.call(.get, "/jobs", key: "not-a-key").expectError(.unauthorized, "UNAUTHORIZED")
            try await client.call(.get, "/jobs", key: "knify_live_" + String(repeating: "a", count: 32)).expectError(.unauthorized, "UNAUTHORIZED")

            let spec = #"{"spec":{"job_type":"gemini_task","prompt":"hi"}}"#
            try await client.call(.post, "/jobs", key: harness.reader, json: spec).expectError(.forbidden, "FORBIDDEN", detailContains: "jobs:write")
            try await client.call(.get, "/jobs", key: harness.writeOnly).expectError(.forbidden, "FORBIDDEN", detailContains: "jobs:read")
            try await client.call(.get, "/metrics", key: harness.writer).expectError(.forbidden, "FORBIDDEN", detailContains: "admin")

            let created = try await client.call(.post, "/jobs", key: harness.writer, json: spec)
            #expect(created.status == .ok)
            let id = try #require(try created.object["job_id"] as? String)
            #expect(try await client.call(.get, "/jobs/\(id)", key: harness.reader).status == .ok)
            try await client.call(.get, "/jobs/\(id)", key: harness.otherTenant).expectError(.notFound, "NOT_FOUND")
            try await client.call(.post, "/jobs/\(id)/cancel", key: harness.otherTenant).expectError(.notFound, "NOT_FOUND")
            let otherList = try await client.call(.get, "/jobs", key: harness.otherTenant).object
            #expect((otherList["data"] as? [Any])?.isEmpty == true)
            // Admin keys see every tenant.
            #expect(try await client.call(.get, "/jobs/\(id)", key: harness.admin).status == .ok)

            let revoked = try #require(try await harness.services.store.apiKey(hash: APIKeys.hash(harness.reader)))
            try await harness.services.store.revokeAPIKey(id: revoked.id)
            try await client.call(.get, "/jobs", key: harness.reader).expectError(.unauthorized, "UNAUTHORIZED", detailContains: "revoked")
            _ = try await harness.services.jobs.cleanup(id, tenant: nil)
        }
    }

    @Test("rate limits: headers on every authenticated reply, errors included; 429 with Retry-After once the hour is spent")
    func rateLimits() async throws {
        let harness = try await APIHarness()
        let made = APIKeys.make(name: "small", scopes: ["jobs:read"], tenant: "team-a", tier: "enterprise", rateLimitPerHour: 3)
        try await harness.services.store.insertAPIKey(made.record)
        try await harness.test { client in
            var remaining: [String] = []
            for uri in ["/jobs", "/jobs/job_missing", "/jobs"] {
                let response = try await client.call(.get, uri, key: made.key)
                #expect(response.headers[.init("X-RateLimit-Limit")!] == "3")
                let reset = try #require(response.headers[.init("X-RateLimit-Reset")!].flatMap(Int.init))
                #expect(reset > Int(Date().timeIntervalSince1970) && reset <= Int(Date().timeIntervalSince1970) + 3600)
                remaining.append(response.headers[.init("X-RateLimit-Remaining")!] ?? "")
            }
            #expect(remaining == ["2", "1", "0"])
            let limited = try await client.call(.get, "/jobs", key: made.key)
            try limited.expectError(.tooManyRequests, "RATE_LIMITED")
            #expect(limited.headers[.retryAfter].flatMap(Int.init).map { $0 >= 1 && $0 <= 3600 } == true)
            #expect(limited.headers[.init("X-RateLimit-Remaining")!] == "0")
            // Other keys and the health check are not affected.
            #expect(try await client.call(.get, "/jobs", key: harness.reader).status == .ok)
            #expect(try await client.call(.get, "/").status == .ok)
        }
    }

    @Test("bad input is a 4xx with a detail that says what to fix, never a 500")
    func badInput() async throws {
        let harness = try await APIHarness()
        try await harness.test { client in
            let key = harness.writer
            try await client.call(.post, "/jobs", key: key, json: "{not json").expectError(.badRequest, "BAD_REQUEST", detailContains: "not valid JSON")
            try await client.call(.post, "/jobs", key: key, json: "").expectError(.badRequest, "BAD_REQUEST", detailContains: "empty")
            try await client.call(.post, "/jobs", key: key, json: "[]").expectError(.badRequest, "BAD_REQUEST", detailContains: "the body must be an object")
            try await client.call(.post, "/jobs", key: key, json: "{}").expectError(.badRequest, "BAD_REQUEST", detailContains: "spec is required")
            try await client.call(.post, "/jobs", key: key, json: #"{"spec":{"prompt":"x"}}"#)
                .expectError(.badRequest, "BAD_REQUEST", detailContains: "spec.job_type is required")
            try await client.call(.post, "/jobs", key: key, json: #"{"spec":{"job_type":"cursor_task","prompt":5}}"#)
                .expectError(.badRequest, "BAD_REQUEST", detailContains: "spec.prompt must be a string")
            try await client.call(.post, "/jobs", key: key, json: #"{"spec":{"job_type":"shell_task","prompt":"x"}}"#)
                .expectError(.badRequest, "BAD_REQUEST", detailContains: "cursor_task")
            try await client.call(.post, "/jobs", key: key, json: #"{"spec":{"job_type":"cursor_task"}}"#)
                .expectError(.badRequest, "BAD_REQUEST", detailContains: "prompt is required")
            try await client.call(.post, "/jobs", key: key, json: #"{"spec":{"job_type":"user_exam","user_id":"u1"}}"#)
                .expectError(.badRequest, "BAD_REQUEST", detailContains: "time_range")
            try await client.call(.post, "/jobs", key: key, json: #"{"spec":{"job_type":"cursor_task","prompt":"x","model":"gpt-2"}}"#)
                .expectError(.badRequest, "BAD_REQUEST", detailContains: "sonnet-4.5")
            try await client.call(.post, "/jobs", key: key, json: #"{"spec":{"job_type":"cursor_task","prompt":"x","workspace_path":"/etc"}}"#)
                .expectError(.badRequest, "BAD_REQUEST", detailContains: "workspace_path")
            try await client.call(.post, "/jobs", key: key, json: #"{"spec":{"job_type":"cursor_task","prompt":"x","workspace_path":"/workspaces/../etc"}}"#)
                .expectError(.badRequest, "BAD_REQUEST")
            let huge = #"{"spec":{"job_type":"cursor_task","prompt":""# + String(repeating: "a", count: 2 << 20) + #""}}"#
            try await client.call(.post, "/jobs", key: key, json: huge).expectError(.contentTooLarge, "PAYLOAD_TOO_LARGE")

            for query in ["limit=0", "limit=101", "limit=abc", "page=0", "page=-1", "status=done", "job_type=shell"] {
                try await client.call(.get, "/jobs?\(query)", key: key).expectError(.badRequest, "BAD_REQUEST")
            }
            try await client.call(.get, "/jobs/job_doesNotExist1", key: key).expectError(.notFound, "NOT_FOUND")
            try await client.call(.get, "/jobs/not-an-id", key: key).expectError(.notFound, "NOT_FOUND", detailContains: "job ids look like")
            try await client.call(.get, "/no/such/route", key: key).expectError(.notFound, "NOT_FOUND")
            try await client.call(.get, "/jobs/job_doesNotExist1/cursor?raw=maybe", key: key).expectError(.notFound, "NOT_FOUND")
        }
    }

    @Test("the OpenAPI document lists every route the server registers, and the server answers every documented one")
    func openAPIIsTrue() async throws {
        let harness = try await APIHarness()
        try await harness.test { client in
            let response = try await client.call(.get, "/openapi.json")
            #expect(response.status == .ok)
            let document = try response.object
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            var documented: Set<String> = []
            for (path, operations) in paths {
                // Path-level `parameters` is not an operation.
                for method in operations.keys where method != "parameters" { documented.insert("\(method.uppercased()) \(path)") }
            }
            let registered = try registeredRoutes()
            #expect(documented == Set(registered), "documented \(documented.sorted()) registered \(registered.sorted())")

            // Every documented operation reaches a handler: the answer is never the router's "no such route".
            for operation in documented {
                let parts = operation.split(separator: " ", maxSplits: 1)
                let uri = String(parts[1]).replacingOccurrences(of: "{job_id}", with: "job_doesNotExist1")
                    .replacingOccurrences(of: "{path}", with: "a.txt").replacingOccurrences(of: "{uuid}", with: "0000")
                let reply = try await client.call(HTTPRequest.Method(String(parts[0]))!, uri, key: harness.admin)
                #expect(!reply.text.contains("no such route"), "\(operation): \(reply.text)")
                #expect(reply.status.code < 500, "\(operation): \(reply.text)")
            }
        }
    }

    /// The routes as the source registers them (`router.get("/…"` / `router.post("/…"`), in OpenAPI's path syntax.
    func registeredRoutes() throws -> [String] {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/KnifyServer/Routes")
        let files = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? []
        var routes: [String] = []
        let pattern = try NSRegularExpression(pattern: #"router\.(get|post|put|patch|delete)\("([^"]+)""#)
        for file in files {
            let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
            for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let method = (text as NSString).substring(with: match.range(at: 1)).uppercased()
                let path = (text as NSString).substring(with: match.range(at: 2))
                    .replacingOccurrences(of: ":id", with: "{job_id}").replacingOccurrences(of: ":uuid", with: "{uuid}")
                    .replacingOccurrences(of: "**", with: "{path}")
                routes.append("\(method) \(path)")
            }
        }
        return routes
    }
}
