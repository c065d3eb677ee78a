import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KnifyServer
import Testing

/// The web console's files (served from the binary with a strict CSP) and the admin views it reads (`/sandboxes`,
/// `/knaps`, `/knaps/{uuid}/runs`). The console itself is exercised in a browser by `Tests/blackbox/test_console.py`.
@Suite("HTTP: the web console and its admin views", .serialized, .timeLimit(.minutes(3)))
struct ConsoleTests {
    static let consoleFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/KnifyServer/Console")

    static func consoleFiles() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: consoleFolder, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }
    }

    static let contentTypes = ["html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
                               "js": "text/javascript; charset=utf-8", "svg": "image/svg+xml"]

    @Test("GET /console and every file of Console/ are served byte for byte, with their content type, a strict CSP and nosniff; unknown assets are 404; an unchanged asset is 304")
    func assets() async throws {
        let files = try Self.consoleFiles()
        #expect(files.count >= 10)
        try await APIHarness().test { client in
            let page = try await client.call(.get, "/console")
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.text.contains(#"<script type="module" src="/console/app.js"></script>"#))
            try Self.expectSecurityHeaders(page)

            for file in files {
                let name = file.lastPathComponent
                let reply = try await client.call(.get, "/console/\(name)")
                #expect(reply.status == .ok, "\(name) is in Console/ but not served: list it in ConsoleAsset.all")
                #expect(reply.headers[.contentType] == Self.contentTypes[file.pathExtension], "\(name)")
                #expect(Data(buffer: reply.body) == (try Data(contentsOf: file)), "\(name) is served as it is on disk")
                try Self.expectSecurityHeaders(reply)
                let etag = try #require(reply.headers[.eTag])
                let again = try await client.call(.get, "/console/\(name)", headers: [.ifNoneMatch: etag])
                #expect(again.status == .notModified)
                #expect(again.body.readableBytes == 0)
            }

            try await client.call(.get, "/console/missing.js").expectError(.notFound, "NOT_FOUND", detailContains: "no console asset")
            try await client.call(.get, "/console/../openapi.json").expectError(.notFound, "NOT_FOUND")
        }
    }

    static func expectSecurityHeaders(_ reply: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let policy = try #require(reply.headers[.contentSecurityPolicy], sourceLocation: sourceLocation)
        for directive in ["default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'",
                          "form-action 'none'", "base-uri 'none'"] {
            #expect(policy.contains(directive), "\(policy)", sourceLocation: sourceLocation)
        }
        #expect(!policy.contains("unsafe"), "\(policy)", sourceLocation: sourceLocation)
        #expect(!policy.contains("http"), "no other origin: \(policy)", sourceLocation: sourceLocation)
        #expect(reply.headers[.xContentTypeOptions] == "nosniff", sourceLocation: sourceLocation)
    }

    @Test("the console's sources render data only as text: no HTML sinks, no eval, no inline script or style, no localStorage, nothing from another origin")
    func sourcesAreSafe() throws {
        let sinks = ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'",
                     "localStorage", "http://", "https://", "javascript:"]
        for file in try Self.consoleFiles() where ["js", "html", "css"].contains(file.pathExtension) {
            let text = try String(contentsOf: file, encoding: .utf8)
            for sink in sinks {
                // The SVG namespace is a name, not a place anything is loaded from.
                let scrubbed = text.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "")
                #expect(!scrubbed.contains(sink), "\(file.lastPathComponent) uses \(sink)")
            }
            if file.pathExtension == "html" {
                #expect(text.range(of: #"<script(?![^>]*\ssrc=)"#, options: .regularExpression) == nil, "inline script in \(file.lastPathComponent)")
                #expect(text.range(of: #"\s(style|on[a-z]+)="#, options: .regularExpression) == nil, "inline style or handler in \(file.lastPathComponent)")
            }
        }
    }

    @Test("/sandboxes, /knaps and /knaps/{uuid}/runs need an admin key and answer the store's sandboxes, every knap and a knap's runs with their jobs")
    func adminViews() async throws {
        let harness = try await APIHarness()
        let alice = try await KnapAPITests.client(harness, user: "alice", org: "acme")
        try await harness.test { client in
            for path in ["/sandboxes", "/knaps", "/knaps/00000000-0000-4000-8000-000000000000/runs"] {
                try await client.call(.get, path).expectError(.unauthorized, "UNAUTHORIZED")
                try await client.call(.get, path, key: harness.writer).expectError(.forbidden, "FORBIDDEN", detailContains: "admin")
                try await client.call(.get, path, key: harness.reader).expectError(.forbidden, "FORBIDDEN", detailContains: "admin")
            }
            #expect(try await client.call(.get, "/knaps", key: harness.admin).object["data"] as? [Any] != nil)

            // A private knap of alice's and one run of it: a job in a sandbox, left paused for a continue.
            let token = try await KnapAPITests.token(client, alice)
            let created = try await client.call(.post, "/api/studio/knap-tools", key: token, json: """
                {"name": "Nightly digest", "visibility": "private", "tool_metadata": {"action_description": "Summarise",
                 "schedule_description": "daily at 2:30 PM"}, "timezone": "Europe/Berlin"}
                """)
            #expect(created.status == .created, "\(created.text)")
            let uuid = try #require(try created.object["uuid"] as? String)
            let ran = try await client.call(.post, "/api/knap-tools/run", key: token, json: """
                {"knap_uuid": "\(uuid)", "stream_updates": false, "messages": [{"role": "user", "content": "Go\\n@@write digest.md\\nok\\n@@end"}]}
                """)
            #expect(ran.status == .ok, "\(ran.text)")
            let jobId = try #require(try ran.object["job_id"] as? String)

            let knaps = try #require(try await client.call(.get, "/knaps", key: harness.admin).object["data"] as? [[String: Any]])
            let knap = try #require(knaps.first { $0["uuid"] as? String == uuid }, "admins see private knaps too")
            #expect(Set(knap.keys) == ["uuid", "name", "creation_user_id", "schedule_type", "is_active", "visibility",
                                       "can_toggle_default_active", "active_by_default", "tool_metadata", "creation_timestamp",
                                       "updated_at", "schedule_info", "next_run_at", "agent", "model", "timezone"])
            #expect(knap["creation_user_id"] as? String == "alice")
            #expect(knap["schedule_type"] as? String == "scheduled")
            #expect(knap["next_run_at"] is String)

            let runs = try #require(try await client.call(.get, "/knaps/\(uuid.uppercased())/runs", key: harness.admin).object["data"] as? [[String: Any]])
            #expect(runs.count == 1)
            let run = try #require(runs.first)
            #expect(Set(run.keys) == ["run_id", "knap_uuid", "chat_id", "job_id", "status", "trigger", "slot_at", "note",
                                      "created_at", "completed_at", "error"])
            #expect(run["job_id"] as? String == jobId)
            #expect(run["status"] as? String == "completed")
            #expect(run["trigger"] as? String == "api")
            #expect(try await client.call(.get, "/jobs/\(jobId)", key: harness.admin).status == .ok, "the run links to its job")
            try await client.call(.get, "/knaps/00000000-0000-4000-8000-000000000000/runs", key: harness.admin)
                .expectError(.notFound, "NOT_FOUND", detailContains: "no knap")
            try await client.call(.get, "/knaps/\(uuid)/runs?limit=0", key: harness.admin).expectError(.badRequest, "BAD_REQUEST", detailContains: "limit")

            let sandboxes = try #require(try await client.call(.get, "/sandboxes", key: harness.admin).object["data"] as? [[String: Any]])
            let sandbox = try #require(sandboxes.first { $0["job_id"] as? String == jobId }, "\(sandboxes)")
            #expect(Set(sandbox.keys) == ["id", "job_id", "session_id", "state", "policy", "node", "pooled", "created_at", "last_used_at",
                                          "age_seconds", "idle_seconds", "keep_alive_until", "idle_ttl_seconds", "max_lifetime_seconds"])
            #expect((sandbox["id"] as? String)?.hasPrefix("sbx_") == true)
            #expect(sandbox["state"] as? String == "paused")
            #expect(sandbox["policy"] as? String == "default")
            #expect(sandbox["node"] as? String == harness.configuration.node)
            #expect(sandbox["pooled"] as? Bool == false)
            #expect(sandbox["keep_alive_until"] is NSNull)
            #expect((sandbox["idle_ttl_seconds"] as? Int ?? 0) > 0)
            #expect((sandbox["max_lifetime_seconds"] as? Int ?? 0) > (sandbox["idle_ttl_seconds"] as? Int ?? 0))
            #expect((sandbox["idle_seconds"] as? Int ?? -1) >= 0)

            _ = try await harness.services.jobs.cleanup(jobId, tenant: nil)
            let after = try #require(try await client.call(.get, "/sandboxes", key: harness.admin).object["data"] as? [[String: Any]])
            #expect(!after.contains { $0["job_id"] as? String == jobId }, "a cleaned sandbox is no longer live")
        }
    }
}
