import DockerEngine
import Foundation

extension WorkspaceRoot {
    /// `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`: a name is one path component and never hidden.
    public static func isValidName(_ name: String) -> Bool {
        name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"#, options: .regularExpression) != nil
    }

    /// Unpacks an uploaded tar as the workspace `name`. Every entry is checked before anything is written: absolute
    /// paths, `..`, links that leave the workspace, devices and fifos are refused, so nothing lands outside the new
    /// folder. The folder appears all at once (renamed from a staging folder) or not at all. Answers its size.
    public func install(name: String, tar: [UInt8], maximumEntries: Int = 100_000) throws(JobError) -> Int64 {
        guard Self.isValidName(name) else {
            throw JobError(.invalidSpec, "name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        // A tar is whole 512-byte blocks ending in two zero blocks; anything else is not one, even if no header failed.
        guard tar.count >= 1024, tar.count % 512 == 0 else {
            throw JobError(.invalidSpec, "the workspace is not a tar archive (\(tar.count) bytes is not whole 512-byte blocks)")
        }
        let entries: [TarEntry]
        do {
            entries = try TarReader.entries(tar)
        } catch {
            throw JobError(.invalidSpec, "the workspace is not a tar archive: \(error.message)")
        }
        guard entries.count <= maximumEntries else {
            throw JobError(.tooLarge, "the workspace has more than \(maximumEntries) entries")
        }
        var planned: [(path: String, entry: TarEntry)] = []
        var total: Int64 = 0
        for entry in entries {
            guard let path = try Self.safeRelativePath(entry.path) else { continue }
            switch entry.kind {
            case .file, .directory:
                break
            case .symlink(let target):
                guard !target.hasPrefix("/"),
                      Self.normalized(Self.parent(of: path) + "/" + target) != nil else {
                    throw JobError(.invalidSpec, "entry \(entry.path) is a link to \(target), outside the workspace")
                }
            case .hardlink(let target):
                guard let inside = try? Self.safeRelativePath(target), inside != nil else {
                    throw JobError(.invalidSpec, "entry \(entry.path) is a hard link to \(target), outside the workspace")
                }
            case .other(let flag):
                throw JobError(.invalidSpec, "entry \(entry.path) is a device, fifo or other special file (type \(Character(UnicodeScalar(flag))))")
            }
            total += Int64(entry.contents.count)
            guard total <= maximumBytes else {
                throw JobError(.tooLarge, "the workspace unpacks to more than \(maximumBytes >> 20) MiB")
            }
            planned.append((path, entry))
        }

        let files = FileManager.default
        let target = (directory as NSString).appendingPathComponent(name)
        guard !files.fileExists(atPath: target) else { throw JobError(.conflict, "a workspace named \(name) exists already") }
        try ensureRoom(for: total, entries: planned.count)
        let staging = (directory as NSString).appendingPathComponent(".upload-" + UUID().uuidString)
        do {
            try files.createDirectory(atPath: staging, withIntermediateDirectories: true)
            for (path, entry) in planned {
                let destination = staging + "/" + path
                try files.createDirectory(atPath: staging + "/" + Self.parent(of: path), withIntermediateDirectories: true)
                switch entry.kind {
                case .directory:
                    try files.createDirectory(atPath: destination, withIntermediateDirectories: true)
                case .file:
                    // No set-id bits, always readable and writable by the owner.
                    let mode = NSNumber(value: entry.mode & 0o755 | 0o600)
                    guard files.createFile(atPath: destination, contents: Data(entry.contents), attributes: [.posixPermissions: mode]) else {
                        throw JobError(.internalError, "cannot write \(path)")
                    }
                case .symlink(let target):
                    try files.createSymbolicLink(atPath: destination, withDestinationPath: target)
                case .hardlink(let target):
                    // A copy, not a link: the workspace must not share inodes with anything.
                    try files.copyItem(atPath: staging + "/" + target, toPath: destination)
                case .other:
                    break
                }
            }
            try files.moveItem(atPath: staging, toPath: target)
        } catch {
            try? files.removeItem(atPath: staging)
            if let error = error as? JobError { throw error }
            if files.fileExists(atPath: target) { throw JobError(.conflict, "a workspace named \(name) exists already") }
            try ensureRoom(for: total, entries: planned.count)  // the disk filled while we wrote
            throw JobError(.invalidSpec, "the workspace cannot be unpacked: \(error.localizedDescription)")
        }
        return total
    }

    /// The entry's path relative to the workspace, nil for the root itself; refuses absolute paths and `..`.
    static func safeRelativePath(_ raw: String) throws(JobError) -> String? {
        guard !raw.hasPrefix("/") else { throw JobError(.invalidSpec, "entry \(raw) has an absolute path") }
        guard !raw.split(separator: "/").contains("..") else { throw JobError(.invalidSpec, "entry \(raw) climbs out with ..") }
        let path = raw.split(separator: "/").filter { $0 != "." && !$0.isEmpty }.joined(separator: "/")
        return path.isEmpty ? nil : path
    }

    /// `a/b/c` → `a/b`, `c` → ``. Entry paths are split by hand: Foundation's NSString path methods trap on
    /// some names (found by `TarFuzzTests`), and an upload must never bring the server down.
    static func parent(of path: String) -> String {
        path.split(separator: "/").dropLast().joined(separator: "/")
    }

    /// `a/b/../c` → `a/c`; nil if the path climbs above its start.
    static func normalized(_ path: String) -> String? {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." && !part.isEmpty {
            if part == ".." {
                guard !parts.isEmpty else { return nil }
                parts.removeLast()
            } else {
                parts.append(part)
            }
        }
        return parts.joined(separator: "/")
    }
}

extension WorkspaceRoot {
    /// Refuses an upload the disk cannot hold (a block per entry, plus 1 MiB), so it fails with a clear error before
    /// a half-written staging folder, rather than as an opaque write failure part way.
    func ensureRoom(for bytes: Int64, entries: Int) throws(JobError) {
        guard let attributes = try? FileManager.default.attributesOfFileSystem(forPath: directory),
              let free = (attributes[.systemFreeSize] as? NSNumber)?.int64Value else { return }
        let needed = bytes + Int64(entries) * 4096 + (1 << 20)
        guard free < needed else { return }
        throw JobError(.storageFull, "Knify's data disk is full: the workspace needs \(needed >> 10) KiB and \(free >> 10) KiB are free; free space in its data directory and retry")
    }
}
