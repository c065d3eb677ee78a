import Foundation
import Jobs
import Logging
import Storage

/// Fires the due slots of active scheduled knaps, each exactly once. The store decides who fires a slot:
/// `claimSlot` moves `next_run_at` and records the run in one transaction, and a slot has one run at most (a unique
/// index), so restarts and several servers on one store cannot run it twice. After downtime a knap runs once, with a
/// note of the slots it missed, and its next run counts from now: no burst of catch-up runs.
public actor KnapScheduler {
    let store: any Store
    let runner: KnapRunner
    let logger: Logger
    /// A run recorded this long ago without a job means its server died before submitting it.
    let submitGrace: TimeInterval
    private var loop: Task<Void, Never>?

    public init(store: any Store, runner: KnapRunner, submitGrace: TimeInterval = 60, logger: Logger = Logger(label: "knify.knaps")) {
        self.store = store
        self.runner = runner
        self.submitGrace = submitGrace
        self.logger = logger
    }

    /// One pass at `now`: fires every due slot this scheduler wins and submits runs other servers recorded but never
    /// submitted. Returns the runs it started. Tests drive it with a simulated clock.
    @discardableResult
    public func tick(now: Date) async -> [KnapRunRecord] {
        var started: [KnapRunRecord] = []
        let due: [KnapRecord]
        do {
            due = try await store.dueKnaps(at: now)
        } catch {
            logger.error("cannot read due knaps", metadata: ["error": "\(error)"])
            return []
        }
        for record in due {
            if let run = await fire(Knap(record: record), now: now) { started.append(run) }
        }
        await submitStranded(now: now)
        return started
    }

    private func fire(_ knap: Knap, now: Date) async -> KnapRunRecord? {
        guard let slot = knap.record.nextRunAt else { return nil }
        let zone = knap.timeZone
        guard let info = knap.scheduleInfo else {
            logger.error("scheduled knap has no schedule; it is skipped", metadata: ["knap": .string(knap.record.uuid)])
            return nil
        }
        var missed = 0
        var cursor = slot
        while missed < 10_000, let later = info.nextRun(after: cursor, in: zone), later <= now {
            missed += 1
            cursor = later
        }
        let note = missed == 0 ? nil
            : "\(missed) later slot\(missed == 1 ? "" : "s") passed while no scheduler was running; ran once for all of them"
        let spec = JobSpec(jobType: knap.record.agent, prompt: KnapRunner.prompt(knap: knap, messages: [], context: nil),
                           model: knap.record.model)
        let run: KnapRunRecord
        do {
            run = try runner.makeRun(knap: knap, spec: spec, userId: knap.record.creationUserId, trigger: "schedule",
                                     chatId: nil, slot: slot, note: note)
            guard try await store.claimSlot(run, next: info.nextRun(after: now, in: zone)) else { return nil }
            KnapRunner.count(run)
        } catch {
            logger.error("cannot claim a knap's slot", metadata: ["knap": .string(knap.record.uuid), "error": "\(error)"])
            return nil
        }
        logger.info("knap slot fired", metadata: ["knap": .string(knap.record.uuid), "slot": .string(ISO8601.string(slot)),
                                                   "run": .string(run.id), "missed": .stringConvertible(missed)])
        do {
            try await runner.submit(run)
        } catch {
            // Recorded with its job id: `submitStranded` retries it.
            logger.error("knap run not submitted yet", metadata: ["run": .string(run.id), "error": "\(error)"])
        }
        return run
    }

    /// Runs recorded by a scheduler or trigger that died before submitting the job (the job id was chosen with the
    /// run, so submitting again cannot run it twice). Runs older than a day are left as they are: their moment passed.
    private func submitStranded(now: Date) async {
        guard let stranded = try? await store.runsWithoutJob(createdAfter: now.addingTimeInterval(-86_400),
                                                             before: now.addingTimeInterval(-submitGrace)) else { return }
        for run in stranded where run.trigger != "api" {
            do {
                try await runner.submit(run)
            } catch {
                logger.error("stranded knap run still not submitted", metadata: ["run": .string(run.id), "error": "\(error)"])
            }
        }
    }

    /// Ticks every `interval` on the wall clock until `stop()`, at the passes where `when` holds (in a cluster:
    /// while this node is the coordinator, so one node schedules at a time and another takes over when it dies).
    public func start(interval: Duration = .seconds(5), when gate: @escaping @Sendable () async -> Bool = { true }) {
        guard loop == nil else { return }
        loop = Task {
            while !Task.isCancelled {
                if await gate() { await self.tick(now: Date()) }
                try? await Task.sleep(for: interval)
            }
        }
    }

    public func stop() async {
        loop?.cancel()
        await loop?.value
        loop = nil
    }
}
