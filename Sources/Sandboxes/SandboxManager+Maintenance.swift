import DockerEngine
import Foundation
import Storage

/// The keep-alive rule, reaping and crash reconciliation.
///
/// Keep-alive rule: a **paused** sandbox (a finished job waiting for a continue) is destroyed once its policy's
/// `idle_ttl` has passed since it was last used, unless `keepAlive(_:until:)` holds it longer. **Every** sandbox is
/// destroyed at its policy's `max_lifetime`, keep-alive or not. Active sandboxes are bounded by their job's timeout
/// and the maximum lifetime; warm-pool sandboxes by the maximum lifetime.
extension SandboxManager {
    public struct ReconcileReport: Sendable, Equatable {
        /// Live records whose container is there: kept, state refreshed from the engine.
        public var adopted: [String] = []
        /// Containers (and volumes) with this node's labels but no live record, older than the grace period.
        public var removedOrphans: [String] = []
        /// Live records whose container is gone.
        public var markedLost: [String] = []
        /// Live records whose container had stopped: destroyed.
        public var removedStopped: [String] = []
    }

    /// Holds a paused sandbox past its idle TTL, up to `until` (never past its maximum lifetime).
    public func keepAlive(_ id: String, until: Date) async throws(SandboxError) {
        var record = try await liveRecord(id)
        record.keepAliveUntil = until
        try await saveRecord(record)
    }

    /// Destroys sandboxes past their idle TTL or maximum lifetime; returns what it destroyed, each with its
    /// `endReason`. With `dryRun` it only answers what it would destroy (`knify-sandbox prune --dry-run`).
    @discardableResult
    public func reap(now: Date = Date(), dryRun: Bool = false) async throws(SandboxError) -> [SandboxRecord] {
        var reaped: [SandboxRecord] = []
        for record in try await liveRecords() {
            guard let policy = configuration.policies[record.policy] else { continue }
            let reason: String
            if now.timeIntervalSince(record.createdAt) >= Double(policy.maxLifetime) {
                reason = "max lifetime (\(policy.maxLifetime)s) reached"
            } else if record.state == .paused,
                      now.timeIntervalSince(record.lastUsedAt) >= Double(policy.idleTTL),
                      (record.keepAliveUntil ?? .distantPast) <= now {
                reason = "idle for \(policy.idleTTL)s"
            } else {
                continue
            }
            if dryRun {
                var planned = record
                planned.endReason = reason
                reaped.append(planned)
            } else {
                reaped.append(try await destroy(record.id, reason: reason))
            }
        }
        return reaped
    }

    /// Matches the engine against the store for this node: adopts what the store knows, removes labelled
    /// containers it does not know (after `grace`, so a create in flight is never mistaken for an orphan), marks
    /// records whose container vanished as lost. Run at start-up and periodically. With `dryRun` nothing is changed:
    /// the report says what would be.
    public func reconcile(now: Date = Date(), grace: TimeInterval = 60, dryRun: Bool = false) async throws(SandboxError) -> ReconcileReport {
        var report = ReconcileReport()
        let containers: [ContainerSummary]
        let volumes: [Volume]
        do {
            containers = try await client.listContainers(all: true, labels: ["\(Label.node)=\(configuration.node)"])
            volumes = try await client.listVolumes(labels: ["\(Label.node)=\(configuration.node)"])
        } catch {
            throw SandboxError("listing this node's containers failed: \(error.message)", docker: error)
        }
        var records = Dictionary(uniqueKeysWithValues: try await liveRecords().map { ($0.id, $0) })

        for container in containers {
            let id = container.labels[Label.sandbox] ?? ""
            guard var record = records.removeValue(forKey: id) else {
                // A sandbox the store has ended (a cluster declared this node lost meanwhile) goes at once; the grace
                // is for containers whose record may not be written yet.
                let ended = (try? await sandbox(id))??.isLive == false
                guard ended || now.timeIntervalSince1970 - Double(container.created) >= grace else { continue }
                if !dryRun { await removeLeftovers(container: container.id, volume: "knify-ws-\(id)") }
                report.removedOrphans.append(id)
                continue
            }
            if record.state == .creating && now.timeIntervalSince(record.createdAt) < grace { continue }
            switch container.state {
            case "running" where record.state != .creating:
                record.state = .active
            case "paused" where record.state != .creating:
                record.state = .paused
            default:
                // Stopped, dead, or a create that never finished: not a sandbox a job can use.
                if !dryRun { _ = try await destroy(record.id, reason: "container \(container.state) at reconcile") }
                report.removedStopped.append(record.id)
                continue
            }
            if !dryRun {
                try await saveRecord(record)
                if record.pooled { returnToPool(record) }
            }
            report.adopted.append(record.id)
        }
        for var record in records.values {
            if record.state == .creating && now.timeIntervalSince(record.createdAt) < grace { continue }
            report.markedLost.append(record.id)
            if dryRun { continue }
            record.state = .lost
            record.endReason = "container vanished"
            try await saveRecord(record)
            try? await client.removeVolume(name: record.volumeName, force: true)
            removeFromPool(record.id)
        }
        // Volumes whose sandbox is no longer live (a crash between volume and container create).
        if dryRun { return report }
        let live = Set(try await liveRecords().map(\.volumeName))
        for volume in volumes where !live.contains(volume.name) && volumeOlder(volume, than: grace, now: now) {
            try? await client.removeVolume(name: volume.name, force: true)
        }
        return report
    }

    private func volumeOlder(_ volume: Volume, than grace: TimeInterval, now: Date) -> Bool {
        guard let text = volume.createdAt, let created = ISO8601DateFormatter().date(from: text) else { return true }
        return now.timeIntervalSince(created) >= grace
    }

    private func removeLeftovers(container: String, volume: String) async {
        try? await client.removeContainer(container, force: true, volumes: true)
        try? await client.removeVolume(name: volume, force: true)
    }
}

extension SandboxManager {
    /// One maintenance pass: reconcile with the engine, reap what expired, top the warm pool up. Failures are
    /// logged, not thrown: the next pass tries again (an engine outage, say).
    public func maintain(now: Date = Date()) async {
        do {
            let report = try await reconcile(now: now)
            if report != ReconcileReport() {
                logger.info("reconciled", metadata: [
                    "adopted": "\(report.adopted.count)", "orphans_removed": "\(report.removedOrphans.count)",
                    "lost": "\(report.markedLost.count)", "stopped_removed": "\(report.removedStopped.count)",
                ])
            }
            try await reap(now: now)
        } catch {
            // A pass cut short by stopMaintenance() is not a failure.
            if !Task.isCancelled { logger.warning("sandbox maintenance failed", metadata: ["error": "\(error)"]) }
        }
        await fillPool()
    }

    /// Runs `maintain()` now and then every `interval` until `stopMaintenance()`: reconcile at start-up, then
    /// periodically, as the lifecycle rules require.
    public func startMaintenance(every interval: Duration = .seconds(120)) {
        guard maintenanceTask == nil else { return }
        maintenanceTask = Task {
            while !Task.isCancelled {
                await self.maintain()
                try? await Task.sleep(for: interval)
            }
        }
    }

    public func stopMaintenance() {
        maintenanceTask?.cancel()
        maintenanceTask = nil
    }
}
