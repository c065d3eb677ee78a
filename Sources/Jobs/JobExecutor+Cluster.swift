import Foundation
import Sandboxes
import Storage

/// The executor's part in a cluster: placing jobs, claiming them from the store's queue, relaying other nodes'
/// progress to local followers, and asking the node that holds a job or sandbox to stop or destroy it.
extension JobExecutor {
    /// The least loaded live worker, or none: the job then waits for whichever worker comes up first.
    func place() async -> String? {
        (try? await store.workerLoads(at: Date()))?.first?.node
    }

    /// Local: into this executor's queue. Clustered: announced, for the node it was placed on to claim.
    func dispatch(_ job: JobRecord) async {
        guard configuration.clustered else { return enqueue(job.id) }
        try? await store.notify(.work(node: job.node))
    }

    /// Tells the other processes that a job changed, so their followers read on.
    func announce(_ id: String) async {
        guard configuration.clustered else { return }
        try? await store.notify(.job(id))
    }

    /// Takes jobs placed here (or nowhere) from the store while there is room in this node's queue.
    public func claimWork() async {
        guard configuration.clustered, configuration.runsJobs else { return }
        guard !claiming else { return claimAgain = true }
        claiming = true
        defer { claiming = false }
        repeat {
            claimAgain = false
            while accepting, tasks.count + queue.count < configuration.concurrency {
                let claimed: JobRecord?
                do {
                    claimed = try await store.claimJob(node: configuration.node)
                } catch {
                    logger.error("cannot claim jobs", metadata: ["error": "\(error)"])
                    return
                }
                guard let job = claimed else { break }
                logger.info("claimed job", metadata: ["job": "\(job.id)", "node": "\(configuration.node)"])
                enqueue(job.id)
            }
        } while claimAgain
    }

    /// Carries out what other nodes asked of this one: only its engine can stop its agents or destroy its sandboxes.
    public func serveRequests() async {
        guard configuration.clustered, configuration.runsJobs else { return }
        let requests: [NodeRequest]
        do {
            requests = try await store.takeNodeRequests(node: configuration.node)
        } catch {
            logger.error("cannot read requests to this node", metadata: ["error": "\(error)"])
            return
        }
        for request in requests {
            do {
                switch request.kind {
                case .cancel: _ = try await cancel(request.jobId, tenant: nil)
                case .cleanup: _ = try await cleanup(request.jobId, tenant: nil)
                }
            } catch {
                logger.error("a request from another node failed", metadata: ["job": "\(request.jobId)", "error": "\(error)"])
            }
        }
    }

    /// Another process changed a job that someone here follows: read on from the store, status first, so a final
    /// status seen means every event before it is stored too.
    public func relay(_ id: String) async {
        guard running[id] == nil, await hub.hasSubscribers(jobId: id) else { return }
        guard let job = try? await store.job(id: id),
              let rows = try? await store.agentEvents(jobId: id, after: await hub.lastSequence(jobId: id)) else { return }
        await hub.publish(jobId: id, rows)
        if job.status.isFinal { await hub.finish(jobId: id, status: job.status) }
    }

    /// Cancel of a job this node is not running: one nobody claimed yet ends here; otherwise its node is asked.
    func cancelElsewhere(_ job: JobRecord) async throws(JobError) -> JobRecord {
        if job.status == .pending {
            let cancelled: JobRecord?
            do {
                cancelled = try await store.cancelUnclaimed(jobId: job.id, at: Date(), reason: "cancelled before it started")
            } catch {
                throw JobError(store: error)
            }
            if let cancelled {
                try await stage(job.id, "cancelled", "Job cancelled before it started", level: .warning)
                await hub.finish(jobId: job.id, status: .cancelled)
                await announce(job.id)
                return cancelled
            }
        }
        guard let node = job.node, node != configuration.node else { return try await current(job.id) }
        let store = store
        let id = job.id
        await ask(node, .cancel, jobId: id) { (try? await store.job(id: id))?.status.isFinal ?? true }
        return try await current(id)
    }

    /// Cleanup of a sandbox another node's engine holds.
    func cleanupElsewhere(_ job: JobRecord, sandbox: SandboxRecord) async throws(JobError) -> JobRecord {
        let store = store
        await ask(sandbox.node, .cleanup, jobId: job.id) { (try? await store.sandbox(id: sandbox.id))?.isLive == false }
        return try await current(job.id)
    }

    /// Records a request to `node` and waits, on the store's change notifications, until `done` holds or the stop
    /// grace (plus a margin) has passed. A node that does not answer in time still finds the request when it does.
    private func ask(_ node: String, _ kind: NodeRequest.Kind, jobId: String, done: @escaping @Sendable () async -> Bool) async {
        let changes = await store.changes()
        do {
            try await store.insertNodeRequest(NodeRequest(node: node, kind: kind, jobId: jobId))
            try await store.notify(.work(node: node))
        } catch {
            logger.error("cannot ask node \(node)", metadata: ["job": "\(jobId)", "error": "\(error)"])
            return
        }
        let limit = configuration.stopGrace + .seconds(15)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                if await done() { return }
                for await change in changes where change == .job(jobId) {
                    if await done() { return }
                }
            }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }
}
