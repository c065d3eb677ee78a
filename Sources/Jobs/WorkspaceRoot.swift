import DockerEngine
import Foundation

/// The folder uploaded workspaces live in. A job's `workspace_path` (`/workspaces/<name>`) must resolve inside it —
/// no `..`, no symlink out — and the sandbox gets its own copy as a tar.
public struct WorkspaceRoot: Sendable {
    public static let apiPrefix = "/workspaces/"
    public let directory: String
    /// The largest workspace copied into a sandbox.
    public var maximumBytes: Int64 = 512 << 20

    public init(directory: String) {
        self.directory = directory
    }

    /// The directory a `workspace_path` names, or a spec error saying why not.
    public func resolve(_ apiPath: String) throws(JobError) -> URL {
        guard apiPath.hasPrefix(Self.apiPrefix) else {
            throw JobError(.invalidSpec, "workspace_path must look like /workspaces/<name>, got \(apiPath)")
        }
        let relative = String(apiPath.dropFirst(Self.apiPrefix.count))
        let components = relative.split(separator: "/", omittingEmptySubsequences: true)
        guard !components.isEmpty, !components.contains(where: { $0 == ".." || $0 == "." }) else {
            throw JobError(.invalidSpec, "workspace_path must name a workspace inside /workspaces, without . or ..")
        }
        let root = URL(fileURLWithPath: directory).resolvingSymlinksInPath()
        let target = root.appendingPathComponent(components.joined(separator: "/")).resolvingSymlinksInPath()
        guard target.path.hasPrefix(root.path + "/") else {
            throw JobError(.invalidSpec, "workspace_path resolves outside the workspaces root")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: target.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw JobError(.invalidSpec, "no workspace at \(apiPath): upload it with POST /workspaces first")
        }
        return target
    }

    /// A tar of the workspace's regular files and folders, owned by the sandbox user. Links and device files are
    /// left out: the copy must not point anywhere outside itself.
    public func archive(_ directory: URL, owner: (uid: Int, gid: Int) = (1000, 1000)) throws(JobError) -> [UInt8] {
        let files = FileManager.default
        guard let walker = files.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey, .isDirectoryKey, .isSymbolicLinkKey]) else {
            throw JobError(.invalidSpec, "cannot read the workspace")
        }
        var tar = TarWriter()
        var total: Int64 = 0
        let base = directory.path.hasSuffix("/") ? directory.path : directory.path + "/"
        for case let url as URL in walker {
            guard url.path.hasPrefix(base) else { continue }
            let relative = String(url.path.dropFirst(base.count))
            let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .isDirectoryKey, .isSymbolicLinkKey])
            if values?.isSymbolicLink == true { continue }
            if values?.isDirectory == true {
                tar.addDirectory(relative, uid: owner.uid, gid: owner.gid)
            } else if values?.isRegularFile == true {
                guard let data = files.contents(atPath: url.path) else { continue }
                total += Int64(data.count)
                guard total <= maximumBytes else {
                    throw JobError(.invalidSpec, "the workspace is larger than \(maximumBytes >> 20) MiB")
                }
                let mode = ((try? files.attributesOfItem(atPath: url.path)[.posixPermissions]) as? NSNumber)?.uint32Value ?? 0o644
                tar.addFile(relative, contents: Array(data), mode: mode & 0o755 | 0o600, uid: owner.uid, gid: owner.gid)
            }
        }
        return tar.finish()
    }
}
