import DockerEngine
import Foundation

/// The offline sandbox image (`Images/local/`): built through Knify's own engine client, with no registry.
///
/// The build context is the image folder as it is on disk plus host binaries (static busybox, the probe). The
/// context's digest is stored as a label, so building an unchanged context again is a no-op.
public struct SandboxImage: Sendable {
    public static let defaultTag = "knify/sandbox:local"
    static let digestLabel = "io.knify.context-digest"

    public enum BuildOutcome: Sendable, Equatable {
        case built(imageId: String)
        case upToDate(imageId: String)
    }

    public var tag: String
    /// The folder holding `Dockerfile` and `rootfs/`.
    public var contextDirectory: String
    /// Host binaries added at the context's top level, by name: a statically linked busybox (Debian's
    /// `busybox-static`), the escape-suite probe and the seccomp launcher `make probe` compiles from
    /// `Images/local/probe/` and `Images/local/confine/`.
    public var hostBinaries: [String: String]

    public static let defaultHostBinaries = ["busybox": "/bin/busybox", "knify-probe": ".build/knify-probe",
                                             "knify-confine": ".build/knify-confine"]

    public init(tag: String = defaultTag, contextDirectory: String = "Images/local",
                hostBinaries: [String: String] = defaultHostBinaries) {
        self.tag = tag
        self.contextDirectory = contextDirectory
        self.hostBinaries = hostBinaries
    }

    /// Builds the image unless one with the same context digest is already tagged.
    public func build(with client: DockerClient, force: Bool = false,
                      progress: (@Sendable (String) -> Void)? = nil) async throws(SandboxError) -> BuildOutcome {
        let context = try makeContext()
        let digest = Self.digest(context)
        if !force, let existing = try? await client.inspectImage(tag), existing.config?.labels?[Self.digestLabel] == digest {
            return .upToDate(imageId: existing.id)
        }
        var options = ImageBuildOptions(tag: tag)
        options.labels = [Self.digestLabel: digest]
        do {
            let id = try await client.buildImage(context: context, options: options) { line in
                if let text = line.stream ?? line.status {
                    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                    if !trimmed.isEmpty { progress?(trimmed) }
                }
            }
            return .built(imageId: id)
        } catch {
            throw SandboxError(error.code == .engineUnavailable ? .engineUnavailable : .image,
                               "building \(tag) failed: \(error.message)", cause: error)
        }
    }

    /// The tar sent to `/build`.
    public func makeContext() throws(SandboxError) -> [UInt8] {
        do {
            return try makeContextUnchecked()
        } catch let error as SandboxError {
            throw error
        } catch {
            throw SandboxError(.image, "cannot read the image folder \(contextDirectory)", cause: error)
        }
    }

    private func makeContextUnchecked() throws -> [UInt8] {
        let files = FileManager.default
        let root = URL(fileURLWithPath: contextDirectory, isDirectory: true)
        guard files.fileExists(atPath: root.appendingPathComponent("Dockerfile").path) else {
            throw SandboxError(.image, "no Dockerfile in \(contextDirectory): run from the Knify checkout or pass the image folder")
        }
        var tar = TarWriter()
        for (name, path) in hostBinaries.sorted(by: { $0.key < $1.key }) {
            guard let binary = files.contents(atPath: path) else {
                throw SandboxError(.image, "cannot read \(path) (the image's \(name)): run `make image`, which installs and builds it")
            }
            tar.addFile(name, contents: Array(binary), mode: 0o755)
        }
        for relative in try listTree(root).sorted() {
            let url = root.appendingPathComponent(relative)
            let attributes = try files.attributesOfItem(atPath: url.path)
            let permissions = (attributes[.posixPermissions] as? NSNumber)?.uint32Value ?? 0o644
            switch attributes[.type] as? FileAttributeType {
            case .typeDirectory?:
                tar.addDirectory(relative, mode: permissions)
            case .typeSymbolicLink?:
                tar.addSymlink(relative, target: try files.destinationOfSymbolicLink(atPath: url.path))
            case .typeRegular?:
                guard let data = files.contents(atPath: url.path) else { throw SandboxError(.image, "cannot read \(url.path)") }
                tar.addFile(relative, contents: Array(data), mode: permissions)
            default:
                continue
            }
        }
        return tar.finish()
    }

    private func listTree(_ root: URL) throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: root.path) else {
            throw SandboxError(.image, "cannot list \(root.path)")
        }
        return enumerator.compactMap { $0 as? String }.filter { !$0.hasSuffix(".md") }
    }

    /// FNV-1a 64: change detection for the build cache, not a security boundary.
    static func digest(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}

