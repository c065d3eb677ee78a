import Storage

/// Fans a job's agent events out to live subscribers (SSE clients, the console) as the executor stores them, so
/// nobody polls the store in a loop. Followers replay from the store first, then continue live (see
/// `JobExecutor.follow`).
public actor JobEventHub {
    public enum Item: Sendable, Equatable {
        case event(AgentEventRow)
        /// The job reached a final state; nothing follows.
        case done(JobRecord.Status)
        /// A period passed (for followers that asked for one): lets a stream say it is alive while the agent is quiet.
        case heartbeat
    }

    private var subscribers: [String: [Int: AsyncStream<Item>.Continuation]] = [:]
    /// The last sequence published per followed job: where a relay from another node reads on.
    private var published: [String: Int] = [:]
    private var nextId = 0

    public init() {}

    /// A live feed of one job, from now on. Buffers up to `limit` items for a slow reader, then drops the oldest:
    /// the reader sees a gap in the sequence numbers and catches up from the store. With `heartbeat`, a
    /// `.heartbeat` is added every period, so the reader's one loop also knows when to say it is alive.
    public func subscribe(jobId: String, limit: Int = 65_536, heartbeat: Duration? = nil) -> (id: Int, stream: AsyncStream<Item>) {
        let (stream, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingNewest(limit))
        nextId += 1
        let id = nextId
        subscribers[jobId, default: [:]][id] = continuation
        let ticker = heartbeat.map { period in
            Task {
                while (try? await Task.sleep(for: period)) != nil { continuation.yield(.heartbeat) }
            }
        }
        continuation.onTermination = { _ in
            ticker?.cancel()
            Task { await self.unsubscribe(jobId: jobId, id: id) }
        }
        return (id, stream)
    }

    /// Ends one subscription; its stream finishes, which also stops its heartbeat.
    public func unsubscribe(jobId: String, id: Int) {
        guard let continuation = subscribers[jobId]?.removeValue(forKey: id) else { return }
        if subscribers[jobId]?.isEmpty == true {
            subscribers[jobId] = nil
            published[jobId] = nil
        }
        continuation.finish()
    }

    func hasSubscribers(jobId: String) -> Bool { subscribers[jobId] != nil }

    func lastSequence(jobId: String) -> Int { published[jobId] ?? 0 }

    func publish(jobId: String, _ rows: [AgentEventRow]) {
        guard let continuations = subscribers[jobId]?.values else { return }
        if let last = rows.last?.sequence { published[jobId] = max(published[jobId] ?? 0, last) }
        for continuation in continuations {
            for row in rows { continuation.yield(.event(row)) }
        }
    }

    func finish(jobId: String, status: JobRecord.Status) {
        published[jobId] = nil
        guard let continuations = subscribers.removeValue(forKey: jobId)?.values else { return }
        for continuation in continuations {
            continuation.yield(.done(status))
            continuation.finish()
        }
    }

    public var subscriberCount: Int { subscribers.values.reduce(0) { $0 + $1.count } }
}
