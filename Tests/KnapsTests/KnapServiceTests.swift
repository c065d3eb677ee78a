import Agents
import Foundation
import Knaps
import Storage
import Testing

/// CRUD and Knapsack's rules across two users of one org (alice, and bob its admin), a user of another org (carol)
/// and one of none (dave).
@Suite struct KnapServiceTests {
    let alice = KnapsHarness.alice, bob = KnapsHarness.bob, carol = KnapsHarness.carol, dave = KnapsHarness.dave

    @Test func createFillsTheDocumentedObjectWithDefaults() async throws {
        let harness = try KnapsHarness()
        let knap = try await harness.create(name: "  Digest  ")
        #expect(knap.record.name == "Digest")
        #expect(knap.record.creationUserId == "alice")
        #expect(knap.record.scheduleType == "manual")
        #expect(knap.record.isActive)
        #expect(knap.record.visibility == "private")
        #expect(!knap.record.canToggleDefaultActive && !knap.record.activeByDefault)
        #expect(knap.record.agent == "cursor_task" && knap.record.model == nil && knap.record.timezone == "UTC")
        #expect(knap.record.creationTimestamp == harness.clock.now && knap.record.updatedAt == harness.clock.now)
        #expect(knap.scheduleInfo == nil && knap.record.nextRunAt == nil)
        #expect(UUID(uuidString: knap.record.uuid) != nil)
        let stored = try await harness.service.get(knap.record.uuid, for: alice)
        #expect(stored == knap)
    }

    @Test func aScheduleDescriptionBecomesScheduleInfoAndTheNextRunInTheKnapsTimeZone() async throws {
        let harness = try KnapsHarness(now: utc("2026-01-05T08:00:00Z"))  // a Monday
        let knap = try await harness.create(schedule: "every Monday at 9am", timezone: "America/New_York")
        #expect(knap.record.scheduleType == "scheduled")
        #expect(knap.scheduleInfo?.scheduleType == .weekly)
        #expect(knap.scheduleInfo?.daysOfWeek == [1])
        #expect(knap.scheduleInfo?.scheduleTime == "09:00")
        // 09:00 in New York in January is 14:00 UTC, and it is still before that on this Monday.
        #expect(knap.record.nextRunAt == utc("2026-01-05T14:00:00Z"))
    }

    @Test func theListSeparatesOwnOrganisationAndPublicKnaps() async throws {
        let harness = try KnapsHarness()
        let privateOne = try await harness.create(alice, name: "P")
        let orgOne = try await harness.create(alice, name: "O", visibility: "acme")
        let publicOne = try await harness.create(alice, name: "U", visibility: "public")
        let carols = try await harness.create(carol, name: "C", visibility: "public")
        let carolsPrivate = try await harness.create(carol, name: "CP")
        func names(_ knaps: [Knap]) -> Set<String> { Set(knaps.map(\.record.name)) }

        let forAlice = try await harness.service.list(for: alice)
        #expect(names(forAlice.mine) == ["P", "O", "U"])
        #expect(forAlice.organization.count == 1 && forAlice.organization[0].org == "acme" && forAlice.organization[0].knaps.isEmpty)
        #expect(names(forAlice.public) == ["C"])

        let forBob = try await harness.service.list(for: bob)
        #expect(forBob.mine.isEmpty)
        #expect(names(forBob.organization[0].knaps) == ["O"])
        #expect(names(forBob.public) == ["U", "C"])

        let forCarol = try await harness.service.list(for: carol)
        #expect(names(forCarol.mine) == ["C", "CP"])
        #expect(forCarol.organization.map(\.org) == ["globex"] && forCarol.organization[0].knaps.isEmpty)
        #expect(names(forCarol.public) == ["U"])

        let forDave = try await harness.service.list(for: dave)
        #expect(forDave.mine.isEmpty && forDave.organization.isEmpty)
        #expect(names(forDave.public) == ["U", "C"])

        // Reading one knap follows the same rules; what cannot be seen is "not found".
        await #expect(throws: KnapError.self) { try await harness.service.get(privateOne.record.uuid, for: bob) }
        await #expect(throws: KnapError.self) { try await harness.service.get(orgOne.record.uuid, for: carol) }
        await #expect(throws: KnapError.self) { try await harness.service.get(carolsPrivate.record.uuid, for: alice) }
        #expect(try await harness.service.get(publicOne.record.uuid, for: dave).record.name == "U")
        #expect(try await harness.service.get(carols.record.uuid, for: alice).record.name == "C")
    }

    @Test func onlyTheOwnerOrAnAdminOfItsOrganisationMayChangeAKnap() async throws {
        let harness = try KnapsHarness()
        let privateOne = try await harness.create(alice, name: "P")
        let orgOne = try await harness.create(alice, name: "O", visibility: "acme")
        let publicOne = try await harness.create(alice, name: "U", visibility: "public")
        let rename = KnapInput(name: "renamed")

        try await expectCode(.forbidden) { try await harness.service.update(publicOne.record.uuid, rename, by: carol) }
        try await expectCode(.forbidden) { try await harness.service.delete(publicOne.record.uuid, by: dave) }
        // An org member who is not an admin may see the org's knaps but not change another member's.
        let colleague = KnapCaller(clientId: "knc_eve", userId: "eve", org: "acme", orgAdmin: false)
        try await expectCode(.forbidden) { try await harness.service.update(orgOne.record.uuid, rename, by: colleague) }
        // A private knap is invisible even to the org's admin: 404, not 403.
        try await expectCode(.notFound) { try await harness.service.update(privateOne.record.uuid, rename, by: bob) }
        #expect(try await harness.service.update(orgOne.record.uuid, rename, by: bob).record.name == "renamed")
        #expect(try await harness.service.update(publicOne.record.uuid, rename, by: bob).record.name == "renamed")
        try await harness.service.delete(orgOne.record.uuid, by: bob)
        try await expectCode(.notFound) { try await harness.service.get(orgOne.record.uuid, for: alice) }
        try await expectCode(.notFound) { try await harness.service.delete(orgOne.record.uuid, by: alice) }
    }

    @Test func anUpdateIsPartialAndVisibilityIsFixed() async throws {
        let harness = try KnapsHarness()
        let knap = try await harness.service.create(KnapInput(
            name: "Digest", visibility: "acme",
            toolMetadata: ["action_description": "Summarise", "tool_types": ["github", "slack"], "extra": 7]), by: alice)
        harness.clock.advance(60)
        let updated = try await harness.service.update(knap.record.uuid, KnapInput(
            isActive: false, toolMetadata: ["tool_types": ["github"], "extra": nil]), by: alice)
        #expect(updated.record.name == "Digest" && updated.record.visibility == "acme")
        #expect(!updated.record.isActive)
        #expect(updated.actionDescription == "Summarise")
        #expect(updated.toolTypes == ["github"])
        #expect(updated.toolMetadata["extra"] == nil)
        #expect(updated.record.updatedAt == knap.record.updatedAt.addingTimeInterval(60))
        #expect(updated.record.creationTimestamp == knap.record.creationTimestamp)

        try await expectCode(.invalid, containing: "visibility cannot change") {
            try await harness.service.update(knap.record.uuid, KnapInput(visibility: "public"), by: alice)
        }
        // Sending the same visibility is not a change.
        _ = try await harness.service.update(knap.record.uuid, KnapInput(visibility: "acme"), by: alice)
    }

    @Test func rescheduleCountsFromNowAndDeactivationClearsTheNextRun() async throws {
        let harness = try KnapsHarness(now: utc("2026-01-05T08:00:00Z"))
        let knap = try await harness.create(schedule: "daily at 10:00")
        #expect(knap.record.nextRunAt == utc("2026-01-05T10:00:00Z"))
        let off = try await harness.service.update(knap.record.uuid, KnapInput(isActive: false), by: alice)
        #expect(off.record.nextRunAt == nil && off.scheduleInfo != nil)
        harness.clock.set(utc("2026-01-05T11:00:00Z"))
        let on = try await harness.service.update(knap.record.uuid, KnapInput(isActive: true), by: alice)
        #expect(on.record.nextRunAt == utc("2026-01-06T10:00:00Z"))
        let moved = try await harness.service.update(knap.record.uuid, KnapInput(toolMetadata: ["schedule_description": "daily at 23:30"]), by: alice)
        #expect(moved.record.nextRunAt == utc("2026-01-05T23:30:00Z"))
        // An unrelated change keeps the pending slot.
        let renamed = try await harness.service.update(knap.record.uuid, KnapInput(name: "x"), by: alice)
        #expect(renamed.record.nextRunAt == moved.record.nextRunAt)
        let manual = try await harness.service.update(knap.record.uuid, KnapInput(scheduleType: "manual"), by: alice)
        #expect(manual.record.nextRunAt == nil && manual.scheduleInfo == nil)
    }

    static let badInputs: [(KnapInput, String)] = [
        (KnapInput(toolMetadata: ["action_description": "x"]), "name is required"),
        (KnapInput(name: "x"), "action_description is required"),
        (KnapInput(name: "", toolMetadata: ["action_description": "x"]), "name must be"),
        (KnapInput(name: "x", scheduleType: "hourly", toolMetadata: ["action_description": "x"]), "schedule_type must be"),
        (KnapInput(name: "x", visibility: "globex", toolMetadata: ["action_description": "x"]), "visibility must be one of private, public, acme"),
        (KnapInput(name: "x", toolMetadata: ["action_description": "x"], timezone: "Mars/Olympus"), "IANA"),
        (KnapInput(name: "x", toolMetadata: ["action_description": "x"], agent: "user_exam"), "agent must be"),
        (KnapInput(name: "x", toolMetadata: ["action_description": "x"], model: "gpt-99"), "gpt-99"),
        (KnapInput(name: "x", toolMetadata: ["action_description": 5]), "action_description must be a string"),
        (KnapInput(name: "x", toolMetadata: ["action_description": "x", "tool_types": "github"]), "tool_types must be an array"),
        (KnapInput(name: "x", scheduleType: "scheduled", toolMetadata: ["action_description": "x"]), "needs tool_metadata.schedule_description"),
        (KnapInput(name: "x", toolMetadata: ["action_description": "x", "schedule_description": "whenever it rains"]), "Accepted forms"),
    ]

    @Test(arguments: badInputs)
    func badInputIsRefusedWithAReason(_ input: KnapInput, _ reason: String) async throws {
        let harness = try KnapsHarness()
        try await expectCode(.invalid, containing: reason) { try await harness.service.create(input, by: alice) }
        #expect(try await harness.service.list(for: alice).mine.isEmpty)
    }

    private func expectCode<T>(_ code: KnapError.Code, containing text: String? = nil,
                               sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T) async throws {
        do {
            _ = try await body()
            Issue.record("expected \(code)", sourceLocation: sourceLocation)
        } catch let error as KnapError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            if let text { #expect(error.message.contains(text), "\(error.message)", sourceLocation: sourceLocation) }
        }
    }
}
