import DockerEngine
import Foundation
import Jobs
import KnifyTestSupport
import Testing

/// The tar reader and the workspace extractor fed random, mutated and hostile archives: the reader never traps and
/// reads back what the writer wrote; the extractor either refuses or writes only inside the new workspace, never
/// leaving a half-made folder.
@Suite("Fuzz: tar and workspace extractor")
struct TarFuzzTests {
    static let segments = ["a", "b", "src", "..", ".", "", "dir", "é", "😀", "name with space", String(repeating: "long", count: 30),
                           "-x", ".hidden", "\u{1}"]

    static func path(_ fuzz: inout Fuzz) -> String {
        let parts = (0..<fuzz.int(1...5)).map { _ in fuzz.pick(segments) }
        return (fuzz.chance(0.1) ? "/" : "") + parts.joined(separator: "/")
    }

    static func entry(_ fuzz: inout Fuzz) -> TarEntry {
        let kind: TarEntry.Kind = switch fuzz.int(0...9) {
        case 0...4: .file
        case 5, 6: .directory
        case 7: .symlink(target: path(&fuzz))
        case 8: .hardlink(target: path(&fuzz))
        default: .other(typeFlag: fuzz.pick(Array("346".utf8)))
        }
        return TarEntry(path: path(&fuzz), kind: kind, mode: UInt32(fuzz.int(0...0o7777)),
                        contents: kind == .file ? fuzz.bytes(0...2000) : [])
    }

    static func archive(_ entries: [TarEntry]) -> [UInt8] {
        var writer = TarWriter()
        entries.forEach { writer.append($0) }
        return writer.finish()
    }

    @Test func whatTheWriterWritesTheReaderReads() throws {
        var fuzz = Fuzz()
        for _ in 0..<Fuzz.iterations {
            let entries = (0..<fuzz.int(0...6)).map { _ in
                // Plain names here: the round trip, not the extractor's rules.
                TarEntry(path: (0..<fuzz.int(1...4)).map { _ in fuzz.pick(["a", "src", "é", "😀", String(repeating: "x", count: fuzz.int(1...150))]) }
                    .joined(separator: "/"), kind: .file, mode: UInt32(fuzz.int(0...0o777)), contents: fuzz.bytes(0...3000))
            }
            let read = try TarReader.entries(Self.archive(entries))
            #expect(read.map(\.path) == entries.map(\.path), "\(fuzz.replay)")
            #expect(read.map(\.contents) == entries.map(\.contents), "\(fuzz.replay)")
            #expect(read.map(\.mode) == entries.map(\.mode), "\(fuzz.replay)")
        }
    }

    @Test func mutatedArchivesNeverTrapTheReader() {
        var fuzz = Fuzz()
        for _ in 0..<Fuzz.iterations {
            let valid = Self.archive((0..<fuzz.int(1...4)).map { _ in Self.entry(&fuzz) })
            let bytes = fuzz.chance(0.1) ? fuzz.bytes(0...3000) : fuzz.mutate(valid)
            _ = try? TarReader.entries(bytes)  // an answer or an error; the property is that it returns
        }
    }

    @Test func theExtractorWritesOnlyInsideTheNewWorkspace() throws {
        var fuzz = Fuzz()
        let outer = FileManager.default.temporaryDirectory.appendingPathComponent("knify-tarfuzz-\(UUID().uuidString)").path
        let rootPath = (outer as NSString).appendingPathComponent("workspaces")
        try FileManager.default.createDirectory(atPath: rootPath, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: outer) }
        let root = WorkspaceRoot(directory: rootPath)
        var installed = 0
        for index in 0..<max(1, Fuzz.iterations / 3) {
            let entries = (0..<fuzz.int(1...6)).map { _ in Self.entry(&fuzz) }
            let bytes = fuzz.chance(0.3) ? fuzz.mutate(Self.archive(entries)) : Self.archive(entries)
            let name = "w\(index)"
            do {
                _ = try root.install(name: name, tar: bytes)
                installed += 1
                let workspace = (rootPath as NSString).appendingPathComponent(name)
                let real = URL(fileURLWithPath: workspace).resolvingSymlinksInPath().path
                for item in FileManager.default.enumerator(atPath: workspace)?.allObjects as? [String] ?? [] {
                    let full = (workspace as NSString).appendingPathComponent(item)
                    guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: full) else { continue }
                    // A link may dangle, but it must not point out of the workspace.
                    let resolved = URL(fileURLWithPath: target, relativeTo: URL(fileURLWithPath: (full as NSString).deletingLastPathComponent, isDirectory: true))
                        .standardizedFileURL.path
                    #expect(!target.hasPrefix("/") && (resolved == real || resolved.hasPrefix(real + "/") || resolved.hasPrefix(workspace + "/")),
                            "\(item) → \(target); \(fuzz.replay)")
                }
            } catch {
                // Refused: nothing of it may be left, not even a staging folder.
                #expect(!FileManager.default.fileExists(atPath: (rootPath as NSString).appendingPathComponent(name)), "\(fuzz.replay)")
            }
            let outside = try FileManager.default.contentsOfDirectory(atPath: outer)
            #expect(outside == ["workspaces"], "written beside the workspaces: \(outside); \(fuzz.replay)")
            let inside = try FileManager.default.contentsOfDirectory(atPath: rootPath)
            #expect(inside.allSatisfy { $0.hasPrefix("w") }, "left in the root: \(inside); \(fuzz.replay)")
        }
        #expect(installed > 0, "no random archive was accepted: the property above was never reached")
    }
}
