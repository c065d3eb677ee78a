@testable import DockerEngine
import Foundation
import Testing

@Suite("Parsing engine streams and replies (no engine needed)")
struct StreamParsingTests {
    private func frame(_ stream: UInt8, _ payload: String) -> [UInt8] {
        let bytes = Array(payload.utf8)
        let size = UInt32(bytes.count)
        return [stream, 0, 0, 0, UInt8(size >> 24), UInt8(size >> 16 & 0xff), UInt8(size >> 8 & 0xff), UInt8(size & 0xff)] + bytes
    }

    @Test("frames split at every possible byte boundary demultiplex the same", arguments: [1, 2, 3, 7, 8, 9, 13, 64])
    func splitFrames(chunkSize: Int) throws {
        let input = frame(1, "hello ") + frame(2, "oops\n") + frame(1, "") + frame(1, "world\n") + frame(2, String(repeating: "e", count: 300))
        var demux = StreamDemultiplexer()
        var out: [UInt8] = [], err: [UInt8] = []
        var index = 0
        while index < input.count {
            let end = min(index + chunkSize, input.count)
            for chunk in try demux.feed(Array(input[index..<end])) {
                switch chunk {
                case .stdout(let bytes): out += bytes
                case .stderr(let bytes): err += bytes
                }
            }
            index = end
        }
        #expect(String(decoding: out, as: UTF8.self) == "hello world\n")
        #expect(String(decoding: err, as: UTF8.self) == "oops\n" + String(repeating: "e", count: 300))
        #expect(demux.bufferedByteCount == 0)
    }

    @Test("stream 3 is the engine's error; a truncated frame stays buffered")
    func errorAndTruncation() throws {
        var demux = StreamDemultiplexer()
        let error = #expect(throws: DockerError.self) { try demux.feed(frame(3, "exec failed")) }
        #expect(error?.code == .streamError)
        #expect(error?.message == "exec failed")

        var partial = StreamDemultiplexer()
        #expect(try partial.feed(Array(frame(1, "abcdef").prefix(10))).isEmpty)
        #expect(partial.bufferedByteCount == 10)
    }

    @Test("JSON lines straddling chunks are reassembled; blank lines dropped")
    func jsonLines() {
        var lines = JSONLines()
        #expect(lines.feed(Array("{\"a\":1}\n{\"b\"".utf8)).map { String(decoding: $0, as: UTF8.self) } == ["{\"a\":1}"])
        #expect(lines.feed(Array(":2}\r\n\n".utf8)).map { String(decoding: $0, as: UTF8.self) } == ["{\"b\":2}\r"])
        #expect(lines.feed([]).isEmpty)
    }

    @Test("create Warnings are kept; engine error bodies map to codes")
    func replies() throws {
        let created = try JSONDecoder().decode(CreatedContainer.self, from: Data(#"{"Id":"abc","Warnings":["Your kernel does not support swap limit capabilities"]}"#.utf8))
        #expect(created.warnings == ["Your kernel does not support swap limit capabilities"])
        let none = try JSONDecoder().decode(CreatedContainer.self, from: Data(#"{"Id":"abc","Warnings":null}"#.utf8))
        #expect(none.warnings.isEmpty)

        let notFound = DockerError.fromStatus(404, body: Array(#"{"message":"No such container: x"}"#.utf8), context: "GET /containers/x/json")
        #expect(notFound.code == .notFound)
        #expect(notFound.message == "GET /containers/x/json: No such container: x")
        #expect(DockerError.fromStatus(409, body: [], context: "c").code == .conflict)
        #expect(DockerError.fromStatus(500, body: Array("plain text".utf8), context: "c").message == "c: plain text")
    }

    @Test("wait replies with and without an error")
    func waitReplies() throws {
        let ok = try JSONDecoder().decode(WaitResult.self, from: Data(#"{"StatusCode":0,"Error":null}"#.utf8))
        #expect(ok.statusCode == 0 && ok.error == nil)
        let failed = try JSONDecoder().decode(WaitResult.self, from: Data(#"{"StatusCode":1,"Error":{"Message":"boom"}}"#.utf8))
        #expect(failed.error == "boom")
    }

    @Test("the create body uses the engine's field names and omits what is unset")
    func specEncoding() throws {
        let spec = ContainerSpec(image: "knify/sandbox:local", cmd: ["sleep", "1"], user: "1000",
                                 hostConfig: HostConfig(capDrop: ["ALL"], pidsLimit: 64, networkMode: "none", init: true))
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(spec)) as? [String: Any])
        #expect(json["Image"] as? String == "knify/sandbox:local")
        #expect(json["User"] as? String == "1000")
        #expect(json["Env"] == nil)
        let host = try #require(json["HostConfig"] as? [String: Any])
        #expect(host["CapDrop"] as? [String] == ["ALL"])
        #expect(host["PidsLimit"] as? Int == 64)
        #expect(host["Init"] as? Bool == true)
        #expect(host["Memory"] == nil)
    }
}

@Suite("Tar archives (no engine needed)")
struct TarArchiveTests {
    @Test("write then read: files, directories, symlinks, long names, binary contents")
    func roundTrip() throws {
        let longName = "deep/" + String(repeating: "nested-directory/", count: 10) + "file-with-a-long-name.txt"
        let binary = (0..<1025).map { UInt8(truncatingIfNeeded: $0) }
        var writer = TarWriter()
        writer.addDirectory("deep", mode: 0o750, uid: 1000, gid: 1000)
        writer.addFile(longName, contents: Array("long\n".utf8))
        writer.addFile("bin.dat", contents: binary, mode: 0o600)
        writer.addFile("empty", contents: [])
        writer.addSymlink("link", target: "bin.dat")
        let bytes = writer.finish()
        #expect(bytes.count % 512 == 0)

        let entries = try TarReader.entries(bytes)
        #expect(entries.map(\.path) == ["deep/", longName, "bin.dat", "empty", "link"])
        #expect(entries[0].kind == .directory && entries[0].mode == 0o750 && entries[0].uid == 1000)
        #expect(entries[1].contents == Array("long\n".utf8))
        #expect(entries[2].contents == binary && entries[2].mode == 0o600)
        #expect(entries[3].contents.isEmpty)
        #expect(entries[4].kind == .symlink(target: "bin.dat"))
    }

    @Test("corrupt archives are errors, not crashes")
    func corrupt() throws {
        var writer = TarWriter()
        writer.addFile("a.txt", contents: Array(repeating: 65, count: 2000))
        var bytes = writer.finish()
        bytes[10] ^= 0xff
        #expect(throws: DockerError.self) { try TarReader.entries(bytes) }
        var truncated = TarWriter()
        truncated.addFile("a.txt", contents: Array(repeating: 65, count: 2000))
        #expect(throws: DockerError.self) { try TarReader.entries(Array(truncated.finish().prefix(1024))) }
        #expect(try TarReader.entries([]).isEmpty)
    }
}
