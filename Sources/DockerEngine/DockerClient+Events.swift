import Foundation

/// One engine event (`GET /events`). The engine keeps only its last 256 events for replay and drops events for slow
/// readers: treat them as hints and reconcile by listing.
public struct DockerEvent: Decodable, Sendable {
    /// container, image, volume, network, daemon, …
    public let type: String
    /// create, start, die, pause, unpause, destroy, exec_create, …
    public let action: String
    public let actor: Actor
    /// Unix nanoseconds.
    public let timeNano: Int64

    public struct Actor: Decodable, Sendable {
        public let id: String
        public let attributes: [String: String]

        enum CodingKeys: String, CodingKey { case id = "ID", attributes = "Attributes" }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decodeIfPresent(String.self, forKey: .id) ?? ""
            attributes = try container.decodeIfPresent([String: String].self, forKey: .attributes) ?? [:]
        }
    }

    enum CodingKeys: String, CodingKey { case type = "Type", action = "Action", actor = "Actor", timeNano }
}

public struct EventFilters: Sendable {
    public var labels: [String] = []
    public var types: [String] = []
    public var events: [String] = []
    public var containers: [String] = []

    public init(labels: [String] = [], types: [String] = [], events: [String] = [], containers: [String] = []) {
        self.labels = labels
        self.types = types
        self.events = events
        self.containers = containers
    }

    var query: [String: [String]] {
        var filters: [String: [String]] = [:]
        if !labels.isEmpty { filters["label"] = labels }
        if !types.isEmpty { filters["type"] = types }
        if !events.isEmpty { filters["event"] = events }
        if !containers.isEmpty { filters["container"] = containers }
        return filters
    }
}

/// Engine events as they happen; ends when the engine closes the stream, or at `until`.
public struct EventStream: AsyncSequence, Sendable {
    public typealias Element = DockerEvent
    let chunks: ByteChunks

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: ByteChunks.AsyncIterator
        var lines = JSONLines()
        var ready: [DockerEvent] = []

        public mutating func next() async throws(DockerError) -> DockerEvent? {
            while ready.isEmpty {
                guard let bytes = try await chunks.next() else { return nil }
                for line in lines.feed(bytes) {
                    do {
                        ready.append(try JSONDecoder().decode(DockerEvent.self, from: Data(line)))
                    } catch {
                        throw DockerError(.decoding, "unexpected event \(String(decoding: line.prefix(200), as: UTF8.self))",
                                          cause: error)
                    }
                }
                ready.reverse()
            }
            return ready.removeLast()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: chunks.makeAsyncIterator()) }
}

extension DockerClient {
    /// Streams events matching the filters. `since`/`until` are Unix seconds; without `until` it runs until the
    /// iteration ends or the task is cancelled.
    public func events(_ filters: EventFilters = EventFilters(), since: Int64? = nil, until: Int64? = nil)
        async throws(DockerError) -> EventStream
    {
        let call = Call("GET", "/events", query: [("filters", Self.filters(filters.query)),
                                                  ("since", since.map(String.init)), ("until", until.map(String.init))])
        // Not awaiting the head: engine 20.10 sends it with the first event. Pass `since` to close the gap between
        // this call and the engine registering the subscriber (it replays its recent events).
        let chunks = try await stream(call, awaitHead: false)
        return EventStream(chunks: chunks)
    }
}
