import Crypto
import DockerEngine
import Foundation
import Sandboxes
import Storage

/// Artifacts are the files a job created or changed under /workspace: a checksum listing before the agent runs,
/// another after, and the difference read out of the sandbox.
extension JobExecutor {
    /// A workspace listing: every regular file's checksum, and the contents of the files the listing exec brought
    /// along (see `Inline`).
    struct WorkspaceListing {
        var checksums: [String: String] = [:]
        var contents: [String: [UInt8]] = [:]
    }

    /// Which files the listing exec also sends back, as a tar after the checksums, saving one archive read each (an
    /// archive read costs the engine as much as an exec, ~45 ms here). Changed files it did not send are read
    /// through the archive API, so what is inlined only ever saves time.
    enum Inline {
        /// Every file: the turn started from an empty workspace, so every file is the turn's.
        case all
        /// Files modified since the sandbox's previous listing, by the marker file that listing left in /tmp.
        case modifiedSinceLastListing
    }

    /// Files up to this size travel inline (at most `artifactMaximumCount` of them); larger ones through the archive API.
    static let inlineMaximumBytes = 256 << 10
    static let listingMarker = "/tmp/.knify-listed"

    /// Path → checksum of every regular file in the workspace (the agent's own state folder left out), and the
    /// contents `inline` asks for. Every listing leaves the marker the next one's `.modifiedSinceLastListing` reads.
    func snapshot(_ sandboxId: String, inline: Inline? = nil) async throws(JobError) -> WorkspaceListing {
        let separator = "--knify-inline-\(RandomID.base62(16))--"
        let script = """
            cd /workspace || exit 0
            find . -type f ! -path './.knify-agent/*' -exec md5sum {} + 2>/dev/null
            case "$KNIFY_INLINE" in
              all) set -- ;;
              modified) [ -e \(Self.listingMarker) ] && set -- -newer \(Self.listingMarker) || KNIFY_INLINE= ;;
              *) KNIFY_INLINE= ;;
            esac
            touch \(Self.listingMarker).next 2>/dev/null
            if [ -n "$KNIFY_INLINE" ]; then
              printf '\\n%s\\n' "$KNIFY_SEPARATOR"
              files=$(find . -type f ! -path './.knify-agent/*' "$@" -size -\(Self.inlineMaximumBytes >> 10)k 2>/dev/null | head -n \(configuration.artifactMaximumCount))
              set --
              while IFS= read -r file; do [ -n "$file" ] && set -- "$@" "$file"; done <<EOF
            $files
            EOF
              [ $# -gt 0 ] && tar -cf - -- "$@" 2>/dev/null
            fi
            mv -f \(Self.listingMarker).next \(Self.listingMarker) 2>/dev/null
            true
            """
        var environment = ["KNIFY_SEPARATOR=\(separator)"]
        switch inline {
        case .all?: environment.append("KNIFY_INLINE=all")
        case .modifiedSinceLastListing?: environment.append("KNIFY_INLINE=modified")
        case nil: break
        }
        let run = try await sandboxCall {
            try await sandboxes.run(sandboxId, ExecSpec(cmd: ["sh", "-c", script], env: environment, workingDir: "/workspace"),
                                    timeout: .seconds(120))
        }
        return Self.parseListing(run.result.stdout, separator: separator)
    }

    /// `md5sum` lines ("<hash>  ./<path>"), then, when files were inlined, the separator on a line of its own and a
    /// tar of them (one or more archives one after another).
    static func parseListing(_ output: [UInt8], separator: String) -> WorkspaceListing {
        var listing = WorkspaceListing()
        let mark = Array("\n\(separator)\n".utf8)
        let split = output.firstRange(of: mark)
        let text = String(decoding: output[..<(split?.lowerBound ?? output.endIndex)], as: UTF8.self)
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            var path = parts[1].trimmingCharacters(in: .whitespaces)
            if path.hasPrefix("./") { path.removeFirst(2) }
            listing.checksums[path] = String(parts[0])
        }
        if let split, let entries = try? TarReader.entries(Array(output[split.upperBound...]), concatenated: true) {
            for entry in entries where entry.kind == .file {
                var path = entry.path
                if path.hasPrefix("./") { path.removeFirst(2) }
                listing.contents[path] = entry.contents
            }
        }
        return listing
    }

    /// Keeps a sandbox's listing for its next turn; past 256 entries, forgets those of sandboxes no longer live (the
    /// reaper destroys sandboxes without telling the executor).
    func rememberListing(_ listing: [String: String], for sandbox: String) async {
        workspaceListings[sandbox] = listing
        guard workspaceListings.count > 256, let live = try? await sandboxes.liveRecords() else { return }
        let ids = Set(live.map(\.id))
        workspaceListings = workspaceListings.filter { ids.contains($0.key) }
    }

    /// The same listing computed from the tar copied into a fresh sandbox (md5, as `md5sum` prints it).
    static func checksums(ofArchive tar: [UInt8]) -> [String: String] {
        guard !tar.isEmpty, let entries = try? TarReader.entries(tar) else { return [:] }
        var sums: [String: String] = [:]
        for entry in entries where entry.kind == .file {
            var path = entry.path
            if path.hasPrefix("./") { path.removeFirst(2) }
            sums[path] = Insecure.MD5.hash(data: entry.contents).hexEncoded
        }
        return sums
    }

    func collectArtifacts(_ jobId: String, sandbox: String, before: [String: String]) async throws(JobError) {
        let listing = try await snapshot(sandbox, inline: before.isEmpty ? .all : .modifiedSinceLastListing)
        let after = listing.checksums
        await rememberListing(after, for: sandbox)
        let changed = after.filter { before[$0.key] != $0.value }.keys.sorted()
        var artifacts: [ArtifactRecord] = []
        for path in changed.prefix(configuration.artifactMaximumCount) {
            let bytes: [UInt8]
            if let inlined = listing.contents[path] {
                bytes = inlined
            } else {
                let tar: [UInt8]
                do {
                    tar = try await sandboxes.archive(sandbox, path: "/workspace/" + path)
                } catch {
                    try await stage(jobId, "artifacts_collected", "could not read \(path): \(error.message)", level: .warning)
                    continue
                }
                guard let entry = (try? TarReader.entries(tar))?.first(where: { $0.kind == .file }) else { continue }
                bytes = entry.contents
            }
            let size = Int64(bytes.count)
            if size > configuration.artifactMaximumBytes {
                artifacts.append(ArtifactRecord(path: path, size: size, kind: "binary"))
                try await stage(jobId, "artifacts_collected",
                                "\(path) is \(size >> 20) MiB, over the \(configuration.artifactMaximumBytes >> 20) MiB limit: listed, not kept",
                                level: .warning)
                continue
            }
            let contents = Self.redact(bytes, secrets: Array(configuration.agentKeys.values))
            var artifact = ArtifactRecord(path: path, size: Int64(contents.count), kind: Self.kind(of: path, contents))
            if Int64(contents.count) > configuration.artifactInlineBytes, let directory = configuration.artifactDirectory {
                // Named by position, not by the agent's path: nothing the agent writes can steer where Knify writes.
                let relative = "\(jobId)/\(artifacts.count)"
                let file = URL(fileURLWithPath: directory).appendingPathComponent(relative)
                do {
                    try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try Data(contents).write(to: file)
                } catch {
                    throw JobError(.store, "cannot keep artifact \(path) under \(directory)", cause: error)
                }
                artifact.storedAt = relative
            } else {
                artifact.content = Data(contents)
            }
            artifacts.append(artifact)
        }
        try await storeCall { [artifacts] in try await store.saveArtifacts(jobId: jobId, artifacts) }
        var detail = "\(artifacts.count) file\(artifacts.count == 1 ? "" : "s") collected"
        if changed.count > configuration.artifactMaximumCount {
            detail += "; \(changed.count - configuration.artifactMaximumCount) more over the limit of \(configuration.artifactMaximumCount)"
        }
        try await stage(jobId, "artifacts_collected", detail)
    }

    /// Vendor keys never leave the sandbox, even when an agent writes one into a file.
    static func redact(_ bytes: [UInt8], secrets: [String]) -> [UInt8] {
        var data = Data(bytes)
        for secret in secrets where !secret.isEmpty {
            let needle = Data(secret.utf8)
            while let range = data.range(of: needle) { data.replaceSubrange(range, with: Data("[REDACTED]".utf8)) }
        }
        return Array(data)
    }

    /// `json` when it parses as JSON, `text` when it is UTF-8 without NUL, else `binary`.
    static func kind(of path: String, _ bytes: [UInt8]) -> String {
        if path.hasSuffix(".json"), (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil {
            return "json"
        }
        if !bytes.contains(0), String(validating: bytes, as: UTF8.self) != nil { return "text" }
        return "binary"
    }
}
