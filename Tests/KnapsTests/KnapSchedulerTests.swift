import Foundation
import Jobs
import Knaps
import Storage
import Testing

/// The scheduler under a simulated clock: `tick(now:)` is called at chosen instants, so nothing waits for time.
@Suite struct KnapSchedulerTests {
    @Test func aDueSlotFiresOnceAndTheNextRunMovesOn() async throws {
        let harness = try KnapsHarness(now: utc("2026-01-05T08:00:00Z"))
        let knap = try await harness.create(schedule: "every day at 09:00")
        let scheduler = harness.scheduler()
        #expect(await scheduler.tick(now: utc("2026-01-05T08:59:59Z")).isEmpty)
        let fired = await scheduler.tick(now: utc("2026-01-05T09:00:03Z"))
        #expect(fired.count == 1)
        #expect(fired.first?.slotAt == utc("2026-01-05T09:00:00Z"))
        #expect(fired.first?.trigger == "schedule" && fired.first?.note == nil && fired.first?.userId == "alice")
        #expect(await scheduler.tick(now: utc("2026-01-05T09:00:10Z")).isEmpty)
        #expect(try await harness.store.knap(uuid: knap.record.uuid)?.nextRunAt == utc("2026-01-06T09:00:00Z"))

        try await harness.settle(fired)
        let runs = try await harness.store.runs(knapUUID: knap.record.uuid, limit: 10)
        #expect(runs.count == 1)
        // The run is a job: recorded under the run's id, here failed because this harness has no engine.
        #expect(runs.first?.status == "failed")
        let job = try #require(try await harness.store.job(id: fired[0].jobId))
        #expect(job.tenant == KnapRunner.tenant && job.userId == "alice")
        #expect(job.specJSON.contains(knap.record.uuid) && job.specJSON.contains("Summarise yesterday"))
    }

    @Test func twoServersOnOneStoreFireEachSlotOnce() async throws {
        let first = try KnapsHarness(now: utc("2026-01-05T08:00:00Z"))
        let second = try KnapsHarness(sharing: first)
        let knap = try await first.create(schedule: "daily at 9am")
        let a = first.scheduler(), b = second.scheduler()
        var started: [KnapRunRecord] = []
        for day in 5...9 {
            let now = utc("2026-01-0\(day)T09:00:01Z")
            async let fromA = a.tick(now: now)
            async let fromB = b.tick(now: now)
            let (runsA, runsB) = await (fromA, fromB)
            #expect(runsA.count + runsB.count == 1, "day \(day): \(runsA.count) + \(runsB.count)")
            started += runsA + runsB
        }
        try await first.settle(started)
        let runs = try await first.store.runs(knapUUID: knap.record.uuid, limit: 100)
        #expect(runs.count == 5)
        #expect(Set(runs.compactMap(\.run.slotAt)).count == 5)
        #expect(Set(runs.map(\.run.jobId)).count == 5)
        #expect(runs.allSatisfy { $0.status != nil })
    }

    @Test func aRestartDoesNotFireTheSameSlotAgain() async throws {
        let before = try KnapsHarness(now: utc("2026-01-05T08:00:00Z"))
        let knap = try await before.create(schedule: "every day at 9")
        let fired = await before.scheduler().tick(now: utc("2026-01-05T09:00:02Z"))
        #expect(fired.count == 1)
        // A new process on the same database, asked about the same moment and a moment later.
        let after = try KnapsHarness(sharing: before)
        #expect(await after.scheduler().tick(now: utc("2026-01-05T09:00:02Z")).isEmpty)
        #expect(await after.scheduler().tick(now: utc("2026-01-05T09:30:00Z")).isEmpty)
        try await before.settle(fired)
        #expect(try await after.store.runs(knapUUID: knap.record.uuid, limit: 10).count == 1)
    }

    @Test func afterDowntimeAKnapRunsOnceWithANoteAndItsNextRunCountsFromNow() async throws {
        let harness = try KnapsHarness(now: utc("2026-01-05T08:00:00Z"))
        let knap = try await harness.create(schedule: "every day at 09:00")
        // Down from before the 5th's slot until after the 8th's: slots of the 5th, 6th, 7th and 8th were missed.
        let fired = await harness.scheduler().tick(now: utc("2026-01-08T12:00:00Z"))
        #expect(fired.count == 1)
        #expect(fired.first?.slotAt == utc("2026-01-05T09:00:00Z"))
        #expect(fired.first?.note?.hasPrefix("3 later slots passed") == true)
        #expect(try await harness.store.knap(uuid: knap.record.uuid)?.nextRunAt == utc("2026-01-09T09:00:00Z"))
        #expect(await harness.scheduler().tick(now: utc("2026-01-08T23:59:00Z")).isEmpty)
        try await harness.settle(fired)
    }

    @Test func inactiveAndUnscheduledKnapsNeverFire() async throws {
        let harness = try KnapsHarness(now: utc("2026-01-05T08:00:00Z"))
        let knap = try await harness.create(schedule: "every day at 09:00")
        _ = try await harness.service.update(knap.record.uuid, KnapInput(isActive: false), by: KnapsHarness.alice)
        _ = try await harness.create(name: "manual one")
        #expect(await harness.scheduler().tick(now: utc("2026-01-10T09:00:00Z")).isEmpty)
        #expect(try await harness.store.runs(knapUUID: knap.record.uuid, limit: 10).isEmpty)
    }

    @Test func aRunRecordedByAServerThatDiedBeforeSubmittingIsSubmittedOnce() async throws {
        let harness = try KnapsHarness(now: utc("2026-01-05T08:00:00Z"))
        let knap = try await harness.create(schedule: "every day at 09:00")
        // What a dying server leaves: the slot claimed and the run recorded, no job yet.
        let run = KnapRunRecord(id: "run_stranded0000001", knapUUID: knap.record.uuid, chatId: "chat_stranded", jobId: JobID.make(),
                                userId: "alice", trigger: "schedule", slotAt: utc("2026-01-05T09:00:00Z"),
                                specJSON: #"{"job_type":"cursor_task","prompt":"Summarise"}"#, createdAt: utc("2026-01-05T09:00:00Z"))
        #expect(try await harness.store.claimSlot(run, next: utc("2026-01-06T09:00:00Z")))
        #expect(try await harness.store.runsWithoutJob(createdAfter: utc("2026-01-05T00:00:00Z"), before: utc("2026-01-05T09:02:00Z")).map(\.id) == [run.id])
        let scheduler = harness.scheduler()
        // Within the grace the first server may still be submitting it.
        await scheduler.tick(now: utc("2026-01-05T09:00:30Z"))
        #expect(try await harness.store.job(id: run.jobId) == nil)
        await scheduler.tick(now: utc("2026-01-05T09:01:30Z"))
        await scheduler.tick(now: utc("2026-01-05T09:02:30Z"))
        try await harness.settle([run])
        let job = try #require(try await harness.store.job(id: run.jobId))
        #expect(job.status.isFinal)
        #expect(try await harness.store.runsWithoutJob(createdAfter: utc("2026-01-05T00:00:00Z"), before: utc("2026-01-05T10:00:00Z")).isEmpty)
        #expect(try await harness.store.jobs(JobQuery(limit: 100, offset: 0)).total == 1)
    }
}
