import Synchronization

/// Fans announced `StoreChange`s out to every open `changes()` stream of one process. SQLite announces in-process
/// only; PostgreSQL feeds it from its `LISTEN` connection, so both hand out streams the same way.
final class ChangeFeed: Sendable {
    private let subscribers = Mutex<[Int: AsyncStream<StoreChange>.Continuation]>([:])
    private let nextId = Atomic<Int>(0)

    /// A stream of changes from now on; it buffers the newest 1024 for a slow reader, who then reads the store anyway.
    func subscribe() -> AsyncStream<StoreChange> {
        let (stream, continuation) = AsyncStream<StoreChange>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let id = nextId.add(1, ordering: .relaxed).newValue
        subscribers.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        return stream
    }

    func publish(_ change: StoreChange) {
        let continuations = subscribers.withLock { Array($0.values) }
        for continuation in continuations { continuation.yield(change) }
    }

    /// Ends every stream (the store is closing).
    func finish() {
        let continuations = subscribers.withLock { all in defer { all.removeAll() }; return Array(all.values) }
        for continuation in continuations { continuation.finish() }
    }
}
