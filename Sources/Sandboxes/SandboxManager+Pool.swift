import DockerEngine
import Foundation
import Storage

/// The warm pool: sandboxes created and started ahead of demand, so a job's first exec does not wait for
/// create + start. Pooled sandboxes are ordinary records (`pooled`), so a restart re-adopts them.
extension SandboxManager {
    /// Creates sandboxes until every policy's pool is at its target, and returns when that round is done. One round
    /// runs at a time (a second caller waits for it); a failure (the engine is down, say) ends the round and the next
    /// acquire or maintenance tick tries again.
    public func fillPool() async {
        if fillTask == nil {
            fillTask = Task {
                await self.fillRound()
                self.fillTask = nil
            }
        }
        await fillTask?.value
    }

    private func fillRound() async {
        for (policy, target) in configuration.warmPool.sorted(by: { $0.key < $1.key }) {
            while pool[policy, default: []].count < target {
                do {
                    let record = try await create(AcquireRequest(policy: policy), pooled: true)
                    pool[policy, default: []].append(record.id)
                } catch {
                    logger.warning("warm pool fill failed", metadata: ["policy": "\(policy)", "error": "\(error)"])
                    break
                }
            }
        }
    }

    /// Removes every pooled sandbox (for shutdown or `pool drain`).
    public func drainPool() async {
        await fillTask?.value  // a fill in flight would add sandboxes after the drain
        let ids = pool.values.flatMap { $0 }
        pool = [:]
        for id in ids { _ = try? await destroy(id, reason: "pool drained") }
    }

    public func poolStatus() -> [String: PoolStatus] {
        configuration.warmPool.reduce(into: [:]) { status, entry in
            let counters = poolCounters[entry.key] ?? (0, 0)
            status[entry.key] = PoolStatus(ready: pool[entry.key]?.count ?? 0, target: entry.value,
                                           hits: counters.hits, misses: counters.misses)
        }
    }

    func takeFromPool(_ policy: String, for request: AcquireRequest) async throws(SandboxError) -> SandboxRecord? {
        guard configuration.warmPool[policy, default: 0] > 0 else { return nil }
        // Refilled when the taker says its command runs (`refillPoolIfDue`), so the refill's create does not compete
        // with its start, or at the next acquire, whichever comes first.
        refillPoolIfDue()
        refillDue = true
        while let id = pool[policy]?.first {
            pool[policy]?.removeFirst()
            guard var record = try await sandbox(id), record.isLive, record.state == .active else { continue }
            record.pooled = false
            record.jobId = request.jobId
            record.sessionId = request.sessionId
            record.lastUsedAt = Date()
            if let workspace = request.workspace, let policy = configuration.policies[record.policy] {
                do {
                    try await client.putArchive(in: record.containerName, path: policy.workspacePath, tar: workspace)
                } catch {
                    _ = try? await destroy(record.id, reason: "workspace copy failed")
                    throw SandboxError("copying the workspace into sandbox \(record.id) failed: \(error.message)", docker: error)
                }
            }
            try await saveRecord(record)
            poolCounters[policy, default: (0, 0)].hits += 1
            return record
        }
        poolCounters[policy, default: (0, 0)].misses += 1
        refillPoolIfDue()
        return nil
    }

    /// Starts the refill that handing out a warm sandbox made due. The job layer calls it once its agent has
    /// visibly started (its first event recorded); commands run with `run` call it when they end.
    public func refillPoolIfDue() {
        guard refillDue else { return }
        refillDue = false
        refillPoolInBackground()
    }

    func refillPoolInBackground() {
        guard !configuration.warmPool.isEmpty, fillTask == nil else { return }
        Task { await self.fillPool() }
    }

    func removeFromPool(_ id: String) {
        for policy in pool.keys { pool[policy]?.removeAll { $0 == id } }
    }

    /// A pooled sandbox adopted at reconcile goes back into the pool.
    func returnToPool(_ record: SandboxRecord) {
        guard record.state == .active, !(pool[record.policy]?.contains(record.id) ?? false) else { return }
        pool[record.policy, default: []].append(record.id)
    }
}
