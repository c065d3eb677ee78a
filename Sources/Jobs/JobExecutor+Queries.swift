import Foundation
import Sandboxes
import Storage

/// Reads for the API. Every read goes through `visibleJob`, so another tenant's job is "not found" everywhere.
/// They touch only the store, so they run beside the actor (nonisolated) instead of queueing behind it.
extension JobExecutor {
    /// The job with its stages, artifact names and sandbox state, in one store read.
    public nonisolated func detail(_ id: String, tenant: String?) async throws(JobError) -> JobDetail {
        guard let detail = try await storeCall({ try await store.jobDetail(id: id) }), tenant == nil || detail.job.tenant == tenant else {
            throw JobError(.notFound, "no job \(id)")
        }
        return detail
    }

    /// A page of the tenant's jobs (nil tenant: all), newest first, with the total that matched.
    public nonisolated func jobs(_ query: JobQuery) async throws(JobError) -> (jobs: [JobRecord], total: Int) {
        try await storeCall { try await store.jobs(query) }
    }

    public nonisolated func stages(_ id: String, tenant: String?) async throws(JobError) -> [StageEvent] {
        _ = try await visibleJob(id, tenant: tenant)
        return try await storeCall { try await store.stages(jobId: id) }
    }

    public nonisolated func agentEvents(_ id: String, tenant: String?, after: Int = 0) async throws(JobError) -> [AgentEventRow] {
        _ = try await visibleJob(id, tenant: tenant)
        return try await storeCall { try await store.agentEvents(jobId: id, after: after) }
    }

    /// The job's artifacts as recorded (small contents inline, large ones only named).
    public nonisolated func artifactRecords(_ id: String, tenant: String?) async throws(JobError) -> [ArtifactRecord] {
        _ = try await visibleJob(id, tenant: tenant)
        return try await storeCall { try await store.artifacts(jobId: id) }
    }

    /// Every artifact with its bytes (nil when it was over the size limit and not kept).
    public nonisolated func artifacts(_ id: String, tenant: String?) async throws(JobError) -> [(artifact: ArtifactRecord, content: Data?)] {
        try await artifactRecords(id, tenant: tenant).map { artifact in
            if let content = artifact.content { return (artifact, content) }
            return (artifact, storedContent(artifact))
        }
    }

    /// One artifact's bytes, or nil when the job has no such artifact (or did not keep its contents).
    public nonisolated func artifact(_ id: String, path: String, tenant: String?) async throws(JobError) -> (artifact: ArtifactRecord, content: Data?)? {
        guard let artifact = try await artifactRecords(id, tenant: tenant).first(where: { $0.path == path }) else {
            return nil
        }
        return (artifact, artifact.content ?? storedContent(artifact))
    }

    /// The state of each named sandbox (`active`, `paused`, `cleaned`, `lost`), for rendering jobs.
    public nonisolated func sandboxStates(_ ids: Set<String>) async throws(JobError) -> [String: String] {
        var states: [String: String] = [:]
        for id in ids {
            if let record = try await storeCall({ try await store.sandbox(id: id) }) { states[id] = record.state.apiName }
        }
        return states
    }

    // MARK: - Workspaces

    /// Unpacks an uploaded tar as a workspace of the tenant and records it.
    public func installWorkspace(name: String, tar: [UInt8], tenant: String) async throws(JobError) -> WorkspaceRecord {
        if try await storeCall({ try await store.workspace(name: name) }) != nil {
            throw JobError(.conflict, "a workspace named \(name) exists already")
        }
        let size = try configuration.workspaces.install(name: name, tar: tar)
        let record = WorkspaceRecord(id: "ws_" + RandomID.base62(12), name: name, tenant: tenant, sizeBytes: size)
        try await storeCall { try await store.insertWorkspace(record) }
        return record
    }

    public nonisolated func workspaces(tenant: String?) async throws(JobError) -> [WorkspaceRecord] {
        try await storeCall { try await store.workspaces(tenant: tenant) }
    }

    /// A workspace another tenant uploaded is not there for this one; folders an operator placed by hand (no record)
    /// are there for everyone.
    func checkWorkspaceVisible(_ spec: JobSpec, tenant: String?) async throws(JobError) {
        guard let tenant, let path = spec.workspacePath, path.hasPrefix(WorkspaceRoot.apiPrefix) else { return }
        let name = path.dropFirst(WorkspaceRoot.apiPrefix.count).split(separator: "/").first.map(String.init) ?? ""
        if let record = try await storeCall({ try await store.workspace(name: name) }), record.tenant != tenant {
            throw JobError(.invalidSpec, "no workspace at \(path): upload it with POST /workspaces first")
        }
    }

    private nonisolated func storedContent(_ artifact: ArtifactRecord) -> Data? {
        guard let stored = artifact.storedAt, let directory = configuration.artifactDirectory else { return nil }
        return FileManager.default.contents(atPath: URL(fileURLWithPath: directory).appendingPathComponent(stored).path)
    }
}

extension SandboxRecord.State {
    /// The job API's name for a sandbox state: `active`, `paused`, `cleaned` or `lost`.
    public var apiName: String {
        switch self {
        case .creating, .active: "active"
        case .paused: "paused"
        case .cleaned: "cleaned"
        case .lost: "lost"
        }
    }
}
