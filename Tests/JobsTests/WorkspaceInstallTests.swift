import DockerEngine
import Foundation
import Jobs
import Testing

@Suite("Workspace uploads")
struct WorkspaceInstallTests {
    static func root() throws -> WorkspaceRoot {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("knify-ws-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return WorkspaceRoot(directory: folder)
    }

    static func tar(_ entries: [TarEntry]) -> [UInt8] {
        var writer = TarWriter()
        for entry in entries { writer.append(entry) }
        return writer.finish()
    }

    @Test("files, folders and links inside are unpacked; the workspace resolves; modes lose set-id bits")
    func install() throws {
        let root = try Self.root()
        let size = try root.install(name: "proj", tar: Self.tar([
            TarEntry(path: "./", kind: .directory),
            TarEntry(path: "./src/main.py", kind: .file, mode: 0o4755, contents: Array("print(1)\n".utf8)),
            TarEntry(path: "docs/link.py", kind: .symlink(target: "../src/main.py")),
            TarEntry(path: "copy.py", kind: .hardlink(target: "src/main.py")),
        ]))
        #expect(size == 9)
        let folder = try root.resolve("/workspaces/proj")
        #expect(FileManager.default.contents(atPath: folder.appendingPathComponent("copy.py").path) == Data("print(1)\n".utf8))
        let mode = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent("src/main.py").path)[.posixPermissions] as? Int
        #expect(mode == 0o755)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder.appendingPathComponent("docs/link.py").path) == "../src/main.py")
    }

    @Test("entries that escape, links out, devices and fifos are refused before anything is written", arguments: [
        ("absolute path", TarEntry(path: "/etc/cron.d/x", kind: .file, contents: [1]), "absolute"),
        ("dot-dot", TarEntry(path: "a/../../x", kind: .file, contents: [1]), ".."),
        ("absolute symlink", TarEntry(path: "passwd", kind: .symlink(target: "/etc/passwd")), "outside"),
        ("relative symlink out", TarEntry(path: "a/up", kind: .symlink(target: "../../..")), "outside"),
        ("hard link out", TarEntry(path: "h", kind: .hardlink(target: "../../etc/shadow")), "outside"),
        ("char device", TarEntry(path: "null", kind: .other(typeFlag: UInt8(ascii: "3"))), "device"),
        ("fifo", TarEntry(path: "pipe", kind: .other(typeFlag: UInt8(ascii: "6"))), "device"),
    ])
    func malicious(name: String, entry: TarEntry, reason: String) throws {
        let root = try Self.root()
        let archive = Self.tar([TarEntry(path: "ok.txt", kind: .file, contents: Array("fine".utf8)), entry])
        let error = try #require(throws: JobError.self) { try root.install(name: "evil", tar: archive) }
        #expect(error.code == .invalidSpec)
        #expect(error.message.contains(reason), "\(name): \(error.message)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.directory).isEmpty, "nothing is left behind")
    }

    @Test("bad names, existing names, oversized archives and non-tar bytes are refused")
    func refusals() throws {
        var root = try Self.root()
        let archive = Self.tar([TarEntry(path: "a.txt", kind: .file, contents: Array(repeating: 7, count: 2048))])
        for bad in ["", ".hidden", "a/b", "..", String(repeating: "x", count: 65)] {
            #expect(throws: JobError.self) { try root.install(name: bad, tar: archive) }
        }
        _ = try root.install(name: "taken", tar: archive)
        #expect(try #require(throws: JobError.self) { try root.install(name: "taken", tar: archive) }.code == .conflict)
        root.maximumBytes = 1024
        #expect(try #require(throws: JobError.self) { try root.install(name: "big", tar: archive) }.code == .tooLarge)
        #expect(try #require(throws: JobError.self) { try root.install(name: "junk", tar: Array("not a tar at all".utf8)) }.code == .invalidSpec)
    }
}
