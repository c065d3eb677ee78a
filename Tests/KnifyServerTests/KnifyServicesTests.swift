import Foundation
import Jobs
import KnifyServer
import KnifyTestSupport
import Storage
import Testing

@Suite("Server wiring")
struct KnifyServicesTests {
    @Test("services start from a configuration: store under the data dir, policies loaded, jobs run; a restart recovers")
    func startAndRecover() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("knify-serve-\(UUID().uuidString)").path
        let node = TestEngine.uniqueName("serve")
        let configuration = ServerConfiguration(dataDirectory: data, policiesDirectory: TestFixtures.policiesDirectory, node: node)
        let services = try await KnifyServices.start(configuration, logger: .init(label: "test"))
        #expect(FileManager.default.fileExists(atPath: data + "/knify.sqlite"))
        let job = try await services.jobs.submit(JobSpec(jobType: "gemini_task", prompt: "hello"), tenant: "ws_a")
        for await _ in try await services.jobs.follow(job.id, after: 0) {}
        #expect(try await services.jobs.visibleJob(job.id, tenant: nil).status == .completed)

        // A job the previous process left running ends with a reason when the next one starts.
        var orphan = JobRecord(id: JobID.make(), tenant: "ws_a", jobType: "gemini_task", status: .running,
                               specJSON: #"{"job_type":"gemini_task","prompt":"x"}"#)
        orphan.node = node
        try await services.store.insertJob(orphan)
        await services.sandboxes.stopMaintenance()
        let restarted = try await KnifyServices.start(configuration, logger: .init(label: "test"))
        #expect(try await restarted.store.job(id: orphan.id)?.error == "orchestrator restarted")
        await restarted.sandboxes.stopMaintenance()
        _ = try await restarted.jobs.cleanup(job.id, tenant: nil)
    }

    @Test("a missing default policy stops the start with a clear error")
    func missingPolicy() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("knify-serve-\(UUID().uuidString)").path
        let configuration = ServerConfiguration(dataDirectory: data, policiesDirectory: TestFixtures.policiesDirectory,
                                                defaultPolicy: "lenient")
        await #expect(throws: (any Error).self) { try await KnifyServices.start(configuration, logger: .init(label: "test")) }
    }
}
