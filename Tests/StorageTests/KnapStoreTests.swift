import Foundation
import Storage
import Testing

@Suite("Store: knaps, runs and tokens (SQLite and PostgreSQL)")
struct KnapStoreTests {
    static let base = Date(timeIntervalSince1970: 1_900_000_000)

    static func knap(_ uuid: String, owner: String, visibility: String, type: String = "scheduled", next: Date? = nil,
                     created: Date = base) -> KnapRecord {
        KnapRecord(uuid: uuid, name: "knap \(uuid)", creationUserId: owner, ownerOrg: visibility == "acme" ? "acme" : nil,
                   scheduleType: type, isActive: true, visibility: visibility, canToggleDefaultActive: true, activeByDefault: false,
                   toolMetadata: #"{"action_description":"x"}"#, scheduleInfo: nil, nextRunAt: next, agent: "claude_task", model: nil,
                   timezone: "UTC", creationTimestamp: created, updatedAt: created)
    }

    static func run(_ id: String, knap: String?, chat: String, slot: Date? = nil, created: Date = base) -> KnapRunRecord {
        KnapRunRecord(id: id, knapUUID: knap, chatId: chat, jobId: "job_\(id)", userId: "alice", trigger: slot == nil ? "manual" : "scheduled",
                      slotAt: slot, specJSON: "{}", createdAt: created)
    }

    @Test("a refresh token is spent exactly once", arguments: Backend.allCases)
    func tokens(backend: Backend) async throws {
        try await backend.withStore { store in
            let token = OAuthTokenRecord(hash: "h1", clientId: "knc_1", kind: .refresh, createdAt: Self.base,
                                         expiresAt: Self.base.addingTimeInterval(3600))
            try await store.insertToken(token)
            #expect(try await store.token(hash: "h1") == token)
            #expect(try await store.revokeToken(hash: "h1", at: Self.base.addingTimeInterval(1)))
            #expect(try await store.revokeToken(hash: "h1", at: Self.base.addingTimeInterval(2)) == false)
            #expect(try await store.revokeToken(hash: "nope", at: Self.base) == false)
            #expect(try await store.token(hash: "h1")?.revokedAt == Self.base.addingTimeInterval(1))
        }
    }

    @Test("what a user sees: own, organisation's, public; newest first; update, delete", arguments: Backend.allCases)
    func visibility(backend: Backend) async throws {
        try await backend.withStore { store in
            try await store.insertKnap(Self.knap("k1", owner: "alice", visibility: "private", created: Self.base))
            try await store.insertKnap(Self.knap("k2", owner: "bob", visibility: "acme", created: Self.base.addingTimeInterval(1)))
            try await store.insertKnap(Self.knap("k3", owner: "carol", visibility: "public", created: Self.base.addingTimeInterval(2)))
            try await store.insertKnap(Self.knap("k4", owner: "carol", visibility: "private", type: "post_meeting_transcription",
                                                 created: Self.base.addingTimeInterval(3)))
            #expect(try await store.knaps(visibleTo: "alice", org: "acme").map(\.uuid) == ["k3", "k2", "k1"])
            #expect(try await store.knaps(visibleTo: "dave", org: nil).map(\.uuid) == ["k3"])
            #expect(try await store.allKnaps().map(\.uuid) == ["k4", "k3", "k2", "k1"])
            #expect(try await store.activeKnaps(scheduleType: "post_meeting_transcription").map(\.uuid) == ["k4"])
            var changed = try #require(try await store.knap(uuid: "k1"))
            changed.name = "renamed"
            changed.isActive = false
            try await store.updateKnap(changed)
            #expect(try await store.knap(uuid: "k1") == changed)
            let missing = await #expect(throws: StorageError.self) { try await store.updateKnap(Self.knap("k9", owner: "x", visibility: "private")) }
            #expect(missing?.code == .notFound)
            #expect(try await store.deleteKnap(uuid: "k1"))
            #expect(try await store.deleteKnap(uuid: "k1") == false)
            let duplicate = await #expect(throws: StorageError.self) { try await store.insertKnap(Self.knap("k2", owner: "x", visibility: "private")) }
            #expect(duplicate?.code == .conflict)
        }
    }

    @Test("a due slot is claimed once even by two stores at the same time; runs list with their jobs", arguments: Backend.allCases)
    func claimSlot(backend: Backend) async throws {
        try await backend.withStores(2) { stores in
            let slot = Self.base.addingTimeInterval(60)
            try await stores[0].insertKnap(Self.knap("k1", owner: "alice", visibility: "private", next: slot))
            #expect(try await stores[0].dueKnaps(at: Self.base).isEmpty)
            #expect(try await stores[1].dueKnaps(at: slot).map(\.uuid) == ["k1"])
            let next = slot.addingTimeInterval(3600)
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for (index, store) in stores.enumerated() {
                    group.addTask { try await store.claimSlot(Self.run("r\(index)", knap: "k1", chat: "c\(index)", slot: slot), next: next) }
                }
                return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
            }
            #expect(wins == 1)
            #expect(try await stores[0].knap(uuid: "k1")?.nextRunAt == next)
            #expect(try await stores[0].dueKnaps(at: slot).isEmpty)
            // A reset next_run_at cannot run the same slot twice.
            var reset = try #require(try await stores[0].knap(uuid: "k1"))
            reset.nextRunAt = slot
            try await stores[0].updateKnap(reset)
            #expect(try await stores[1].claimSlot(Self.run("r9", knap: "k1", chat: "c9", slot: slot), next: next) == false)

            let runs = try await stores[0].runs(knapUUID: "k1", limit: 10)
            #expect(runs.count == 1)
            #expect(runs.first?.status == nil, "its job is not recorded yet")
            let runId = try #require(runs.first?.run.id)
            #expect(try await stores[1].runsWithoutJob(createdAfter: Self.base.addingTimeInterval(-1), before: Self.base.addingTimeInterval(1))
                .map(\.id) == [runId])
            var job = JobRecord(id: "job_\(runId)", tenant: "knaps", jobType: "claude_task", specJSON: "{}")
            job.status = .failed
            job.error = "boom"
            try await stores[0].insertJob(job)
            #expect(try await stores[1].runs(knapUUID: "k1", limit: 10).first?.status == "failed")
            #expect(try await stores[1].runs(knapUUID: "k1", limit: 10).first?.error == "boom")
            #expect(try await stores[1].runsWithoutJob(createdAfter: Self.base.addingTimeInterval(-1), before: Self.base.addingTimeInterval(1)).isEmpty)
        }
    }

    @Test("a chat's last run is its newest", arguments: Backend.allCases)
    func lastRun(backend: Backend) async throws {
        try await backend.withStore { store in
            try await store.insertRun(Self.run("a", knap: nil, chat: "chat_1", created: Self.base))
            try await store.insertRun(Self.run("b", knap: nil, chat: "chat_1", created: Self.base.addingTimeInterval(5)))
            try await store.insertRun(Self.run("c", knap: nil, chat: "chat_2", created: Self.base.addingTimeInterval(9)))
            #expect(try await store.lastRun(chatId: "chat_1")?.id == "b")
            #expect(try await store.run(id: "c")?.chatId == "chat_2")
            #expect(try await store.lastRun(chatId: "none") == nil)
            let duplicate = await #expect(throws: StorageError.self) { try await store.insertRun(Self.run("a", knap: nil, chat: "x")) }
            #expect(duplicate?.code == .conflict)
        }
    }
}
