import Agents
import ArgumentParser
import DockerEngine
import Foundation
import Jobs
import Logging
import SandboxPolicy
import Sandboxes
import Storage

extension KnifyBench {
    /// The argv Knify's cursor driver runs for a turn, so the raw baselines run exactly the agent command Knify does.
    static func agentCommand(prompt: String = "bench turn", resuming session: String? = nil) -> [String] {
        AgentDriver.cursor.turnCommand(prompt: prompt, model: "auto", sessionId: session, workspace: "/workspace")
    }

    /// Job start (cold, warm), continue and the full lifecycle through Knify, each next to the raw engine calls
    /// that do the same work, alternating.
    func measureJobs(client: DockerClient, policy: Policy, node: String, recorder: Recorder) async throws {
        var quiet = Logger(label: "knify.bench")
        quiet.logLevel = .warning
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("knify-bench-\(UUID().uuidString)")
        let store = try SQLiteStore(path: directory.appendingPathComponent("knify.sqlite").path)
        func executor(warm: Int) -> (JobExecutor, SandboxManager) {
            let sandboxes = SandboxManager(client: client, store: store, configuration: .init(
                node: node, policies: [self.policy: policy], defaultPolicy: self.policy,
                warmPool: warm > 0 ? [self.policy: warm] : [:]), logger: quiet)
            let jobs = JobExecutor(store: store, sandboxes: sandboxes, configuration: .init(
                concurrency: 4, workspaces: WorkspaceRoot(directory: directory.path), node: node), logger: quiet)
            return (jobs, sandboxes)
        }
        let (cold, _) = executor(warm: 0)
        let (warm, warmSandboxes) = executor(warm: 1)
        let labels = [SandboxManager.Label.node: node]
        let spec = ContainerSpec(image: SandboxImage.defaultTag, cmd: ["sleep", "infinity"], user: policy.user, labels: labels,
                                 stopSignal: "SIGKILL", hostConfig: policy.hostConfig(workspaceVolume: "\(node)-jobs-raw", volumeLabels: labels))
        /// Until the first byte of the agent's output (when the agent has demonstrably started), then to its end
        /// (untimed), as `firstEvent` does: the next measurement must not share the CPUs with this agent's rest.
        /// Answers the session id the agent reported, for a raw continue to resume.
        @discardableResult
        func firstByte(_ container: String, resuming: String? = nil, start: ContinuousClock.Instant, name: String) async throws -> String {
            let exec = try await client.createExec(in: container, ExecSpec(cmd: Self.agentCommand(resuming: resuming), workingDir: "/workspace"))
            var recorded = false
            var output: [UInt8] = []
            for try await chunk in try await client.startExec(exec) {
                if !recorded {
                    recorder.record(name, since: start)
                    recorded = true
                }
                if case .stdout(let bytes) = chunk { output += bytes }
            }
            guard let session = String(decoding: output, as: UTF8.self).split(separator: "\n").lazy.compactMap({ line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8))).flatMap { ($0 as? [String: Any])?["session_id"] as? String }
            }).first else { throw ValidationError("the raw agent turn reported no session id") }
            return session
        }
        /// Until the job's first agent event, then to its end (untimed).
        func firstEvent(_ executor: JobExecutor, _ id: String, start: ContinuousClock.Instant, name: String) async throws {
            var recorded = false
            for await item in try await executor.follow(id, after: 0) {
                if case .event = item, !recorded {
                    recorder.record(name, since: start)
                    recorded = true
                }
            }
        }

        for _ in 0..<iterations {
            // Cold: a new sandbox per job.
            var start = ContinuousClock.now
            let raw = try await client.createContainer(spec.with(volume: "\(node)-jobs-cold")).id
            try await client.startContainer(raw)
            let session = try await firstByte(raw, start: start, name: "raw create+start+exec first byte")
            try await client.pauseContainer(raw)

            start = .now
            let job = try await cold.submit(JobSpec(jobType: "cursor_task", prompt: "bench turn"), tenant: "bench")
            try await firstEvent(cold, job.id, start: start, name: "knify job cold start")

            // Continue: the paused sandbox is resumed and the agent started again. The raw side continues its own cold
            // turn's container and session, as Knify does: one turn behind it, paused since.
            start = .now
            try await client.unpauseContainer(raw)
            try await firstByte(raw, resuming: session, start: start, name: "raw unpause+exec first byte")
            try await client.removeContainer(raw, force: true, volumes: true)
            try? await client.removeVolume(name: "\(node)-jobs-cold", force: true)

            start = .now
            let next = try await cold.continueJob(job.id, spec: JobSpec(jobType: "cursor_task", prompt: "next turn"), tenant: "bench")
            try await firstEvent(cold, next.id, start: start, name: "knify continue start")
            _ = try await cold.cleanup(job.id, tenant: "bench")

            // Warm: the pool holds a started sandbox. The raw side gets the same: a started container the agent has
            // not run in yet (a first turn creates the agent's state, which later turns find).
            await warmSandboxes.fillPool()
            let fresh = try await client.createContainer(spec.with(volume: "\(node)-jobs-warm")).id
            try await client.startContainer(fresh)
            start = .now
            try await firstByte(fresh, start: start, name: "raw exec first byte")
            try await client.removeContainer(fresh, force: true, volumes: true)
            try? await client.removeVolume(name: "\(node)-jobs-warm", force: true)
            start = .now
            let warmJob = try await warm.submit(JobSpec(jobType: "cursor_task", prompt: "bench turn"), tenant: "bench")
            try await firstEvent(warm, warmJob.id, start: start, name: "knify job warm start")
            _ = try await warm.cleanup(warmJob.id, tenant: "bench")
            await warmSandboxes.fillPool()

            // Full lifecycle: submit, run to the end, collect artifacts, clean up; through the raw API, what the
            // docker-py script does (create, start, the agent to its end, its file read back, remove).
            try await recorder.time("raw full cycle") {
                let raw = try await client.createContainer(spec.with(volume: "\(node)-jobs-cycle")).id
                try await client.startContainer(raw)
                let turn = try await client.exec(in: raw, ExecSpec(cmd: Self.agentCommand(), workingDir: "/workspace"))
                guard turn.exitCode == 0 else { throw ValidationError("the raw agent turn failed: \(turn.stderrText)") }
                _ = try await client.getArchive(in: raw, path: "/workspace/AGENT_TASK.md")
                try await client.removeContainer(raw, force: true, volumes: true)
                try await client.removeVolume(name: "\(node)-jobs-cycle", force: true)
            }
            for (executor, name) in [(cold, "knify job lifecycle"), (warm, "knify job lifecycle warm")] {
                try await recorder.time(name) {
                    let full = try await executor.submit(JobSpec(jobType: "cursor_task", prompt: "bench turn"), tenant: "bench")
                    for await _ in try await executor.follow(full.id, after: 0) {}
                    _ = try await executor.cleanup(full.id, tenant: "bench")
                }
            }
            // The refill the warm lifecycle made due runs here, not during the next raw measurement.
            await warmSandboxes.fillPool()
        }
        await warmSandboxes.drainPool()
        try? FileManager.default.removeItem(at: directory)
    }
}

extension ContainerSpec {
    /// The same container with its own workspace volume.
    func with(volume: String) -> ContainerSpec {
        var copy = self
        let mounts = hostConfig?.mounts?.map { mount in
            var changed = mount
            changed.source = volume
            return changed
        }
        copy.hostConfig?.mounts = mounts
        return copy
    }
}
