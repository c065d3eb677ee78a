import Foundation

/// `X-Docker-Container-Path-Stat`: what the path in an archive reply is.
public struct PathStat: Decodable, Sendable {
    public let name: String
    public let size: Int64
    /// Go `os.FileMode` bits: the directory flag is bit 31, symlink bit 27.
    public let mode: UInt32
    public let mtime: String?
    public let linkTarget: String?

    public var isDirectory: Bool { mode & (1 << 31) != 0 }
}

extension DockerClient {
    /// Extracts a tar into `path` inside the container. Refused (400) into a read-only root filesystem; files put into
    /// a tmpfs mount are invisible to the container, so target a volume or bind mount.
    public func putArchive(in container: String, path: String, tar: [UInt8]) async throws(DockerError) {
        var call = Call("PUT", "/containers/\(container)/archive", query: [("path", path)])
        call.body = tar
        call.contentType = "application/x-tar"
        _ = try await send(call)
    }

    /// A tar of `path` inside the container (a directory comes with its name as the top entry) and its stat.
    public func getArchive(in container: String, path: String) async throws(DockerError) -> (tar: [UInt8], stat: PathStat?) {
        let reply = try await send(Call("GET", "/containers/\(container)/archive", query: [("path", path)]))
        let stat = reply.headers["x-docker-container-path-stat"]
            .flatMap { Data(base64Encoded: $0) }
            .flatMap { try? JSONDecoder().decode(PathStat.self, from: $0) }
        return (reply.body, stat)
    }
}
