import DockerEngine
import Foundation
import KnifyTestSupport
import Testing

@Suite("Archive, events and image builds against the real engine")
struct DockerClientArchiveEventsTests {
    let client = TestEngine.client

    @Test("a tar put into the container can be read back, and the files are visible inside")
    func archiveRoundTrip() async throws {
        try await TestEngine.withContainer { id in
            var tar = TarWriter()
            tar.addDirectory("project", uid: 1000, gid: 1000)
            tar.addFile("project/hello.txt", contents: Array("hello from the host\n".utf8), uid: 1000, gid: 1000)
            let binary = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            tar.addFile("project/blob.bin", contents: binary, mode: 0o600, uid: 1000, gid: 1000)
            try await client.putArchive(in: id, path: "/workspace", tar: tar.finish())

            #expect(try await client.exec(in: id, "cat", "/workspace/project/hello.txt").stdoutText == "hello from the host\n")

            let (bytes, stat) = try await client.getArchive(in: id, path: "/workspace/project")
            #expect(stat?.name == "project")
            #expect(stat?.isDirectory == true)
            let entries = try TarReader.entries(bytes)
            let byPath = Dictionary(uniqueKeysWithValues: entries.map { ($0.path, $0) })
            #expect(byPath["project/hello.txt"]?.contents == Array("hello from the host\n".utf8))
            #expect(byPath["project/blob.bin"]?.contents == binary)
            #expect(byPath["project/blob.bin"]?.mode == 0o600)
        }
    }

    @Test("archive errors: a missing path is notFound")
    func archiveMissingPath() async throws {
        try await TestEngine.withContainer { id in
            let error = await #expect(throws: DockerError.self) {
                try await client.getArchive(in: id, path: "/workspace/not-there")
            }
            #expect(error?.code == .notFound)
        }
    }

    @Test("events for a labelled container are seen, filtered by label")
    func events() async throws {
        let value = UUID().uuidString
        let since = Int64(Date().timeIntervalSince1970) - 1
        let events = try await client.events(EventFilters(labels: ["io.knify.test.events=\(value)"], types: ["container"]),
                                             since: since)
        let collector = Task { () throws -> [String] in
            var actions: [String] = []
            for try await event in events {
                actions.append(event.action)
                if event.action == "destroy" { break }
            }
            return actions
        }
        let created = try await client.createContainer(TestEngine.idleSpec(labels: ["io.knify.test.events": value]),
                                                       name: TestEngine.uniqueName("events"))
        try await client.startContainer(created.id)
        try await client.removeContainer(created.id, force: true)
        let actions = try await collector.value
        #expect(actions.first == "create")
        #expect(actions.contains("start"))
        #expect(actions.last == "destroy")
    }

    @Test("a build whose step fails is reported as buildFailed with the engine's words")
    func failingBuild() async throws {
        var context = TarWriter()
        context.addFile("Dockerfile", contents: Array("FROM scratch\nCOPY missing-file /missing\n".utf8))
        let error = await #expect(throws: DockerError.self) {
            try await client.buildImage(context: context.finish(), options: ImageBuildOptions(tag: TestEngine.uniqueName("bad")))
        }
        #expect(error?.code == .buildFailed)
        #expect(error?.message.contains("missing-file") == true)
    }

    @Test("a FROM scratch build succeeds offline; the image is listed, inspected, exported, removed and loaded back")
    func buildListRemove() async throws {
        var context = TarWriter()
        context.addFile("Dockerfile", contents: Array("FROM scratch\nCOPY note.txt /note.txt\nLABEL io.knify.test=1\n".utf8))
        context.addFile("note.txt", contents: Array(UUID().uuidString.utf8))
        let tag = TestEngine.uniqueName("img") + ":latest"
        let lines = LockedLines()
        let id = try await client.buildImage(context: context.finish(), options: ImageBuildOptions(tag: tag)) {
            lines.append($0.stream ?? "")
        }
        #expect(lines.joined.contains("Successfully"))
        #expect(try await client.inspectImage(tag).id == id)
        #expect(try await client.listImages(reference: tag).map(\.id) == [id])

        // Export, remove, load back: the same image id under the same tag, with no registry involved.
        let saved = try await client.exportImage(tag)
        try await client.removeImage(tag)
        let gone = await #expect(throws: DockerError.self) { try await client.inspectImage(tag) }
        #expect(gone?.code == .notFound)
        try await client.loadImages(tar: saved)
        #expect(try await client.inspectImage(tag).id == id)
        try await client.removeImage(tag)
    }
}

private final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var joined: String { lock.withLock { lines.joined() } }
}
