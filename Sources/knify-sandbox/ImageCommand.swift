import ArgumentParser
import DockerEngine
import Foundation
import Sandboxes

struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Build and list sandbox images.",
        subcommands: [Build.self, List.self]
    )

    struct Build: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build the offline sandbox image (no registry needed).",
            discussion: """
                Sends Images/local (Dockerfile + rootfs), the host's static busybox and the escape-suite probe to the \
                engine's /build. \
                Skips the build when an image with the same context digest is already tagged, unless --force.
                """
        )

        @OptionGroup var engine: EngineOptions
        @Option(help: "Image tag.") var tag = SandboxImage.defaultTag
        @Option(help: "The image folder (Dockerfile + rootfs/).") var context = "Images/local"
        @Option(help: "A statically linked busybox to put in the image.") var busybox = "/bin/busybox"
        @Option(help: "The static escape-suite probe (`make probe` builds it).") var probe = ".build/knify-probe"
        @Option(help: "The static seccomp launcher for runtimes that skip the filter on exec (`make probe` builds it).")
        var confine = ".build/knify-confine"
        @Flag(help: "Rebuild even when the image is up to date.") var force = false
        @Flag(help: "Print the engine's build output.") var verbose = false

        func run() async throws {
            let image = SandboxImage(tag: tag, contextDirectory: context,
                                     hostBinaries: ["busybox": busybox, "knify-probe": probe, "knify-confine": confine])
            let verbose = verbose
            do {
                let outcome = try await image.build(with: try engine.client(), force: force) { line in
                    if verbose || line.hasPrefix("Step ") { print(line) }
                }
                switch outcome {
                case .built(let id): print("built \(tag) \(id)")
                case .upToDate(let id): print("\(tag) is up to date (\(id))")
                }
            } catch {
                throw fail(error)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List Knify sandbox images.")

        @OptionGroup var engine: EngineOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            do {
                let images = try await engine.client().listImages().filter { $0.labels["io.knify.image"] != nil }
                if json {
                    let rows = images.map { ["id": $0.id, "tags": $0.repoTags.joined(separator: ","),
                                             "size": String($0.size), "created": String($0.created)] }
                    let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                } else {
                    print("TAG".padding(toLength: 32, withPad: " ", startingAt: 0) + "ID            SIZE")
                    for image in images {
                        let tag = image.repoTags.first ?? "<none>"
                        let id = String(image.id.replacingOccurrences(of: "sha256:", with: "").prefix(12))
                        print(tag.padding(toLength: 32, withPad: " ", startingAt: 0) + id + "  "
                              + ByteCountFormatter.string(fromByteCount: image.size, countStyle: .file))
                    }
                }
            } catch {
                throw fail(error)
            }
        }
    }
}
