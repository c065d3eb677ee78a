import Foundation

public struct Volume: Decodable, Sendable {
    public let name: String
    public let labels: [String: String]?
    public let mountpoint: String?
    /// RFC 3339, as the engine writes it.
    public let createdAt: String?

    enum CodingKeys: String, CodingKey {
        case name = "Name", labels = "Labels", mountpoint = "Mountpoint", createdAt = "CreatedAt"
    }
}

extension DockerClient {
    /// Creates a named local volume; creating one that exists answers the existing volume.
    public func createVolume(name: String, labels: [String: String] = [:]) async throws(DockerError) -> Volume {
        struct Body: Encodable {
            let Name: String
            let Labels: [String: String]
        }
        var call = Call("POST", "/volumes/create")
        try call.json(Body(Name: name, Labels: labels))
        return try await send(call, as: Volume.self)
    }

    public func removeVolume(name: String, force: Bool = false) async throws(DockerError) {
        _ = try await send(Call("DELETE", "/volumes/\(Self.percentEncode(name))",
                                query: [("force", force ? "true" : "false")]))
    }

    public func listVolumes(labels: [String] = []) async throws(DockerError) -> [Volume] {
        struct Reply: Decodable { let Volumes: [Volume]? }
        let filters = labels.isEmpty ? [:] : ["label": labels]
        return try await send(Call("GET", "/volumes", query: [("filters", Self.filters(filters))]),
                              as: Reply.self).Volumes ?? []
    }
}
