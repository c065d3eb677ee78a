import Storage

/// What `JobExecutor.follow` answers: a job's stored events after a sequence number, then its live ones until it
/// ends (`.done` last). Read in the follower's own loop, with no task or second stream in between: one SSE client
/// costs one wake-up per event, which is what lets a job fan out to a thousand of them.
///
/// A follower that fell more than its backlog behind finds a gap in the sequence numbers; the feed then ends
/// without `.done`, and the follower resumes from the store (an SSE client reconnects with `Last-Event-ID`).
public struct JobFeed: AsyncSequence, Sendable {
    public typealias Element = JobEventHub.Item

    let stored: [AgentEventRow]
    /// Set when the job had ended before the stored events were read: they are all there is.
    let finalStatus: JobRecord.Status?
    let live: AsyncStream<JobEventHub.Item>
    let after: Int
    let subscription: Subscription

    /// Ends the hub's subscription when the last copy of the feed (or of its iterator) goes away, so a follower that
    /// stops reading early does not stay subscribed until the job ends.
    final class Subscription: Sendable {
        let hub: JobEventHub
        let jobId: String
        let id: Int

        init(hub: JobEventHub, jobId: String, id: Int) {
            self.hub = hub
            self.jobId = jobId
            self.id = id
        }

        deinit {
            let (hub, jobId, id) = (hub, jobId, id)
            Task { await hub.unsubscribe(jobId: jobId, id: id) }
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var stored: IndexingIterator<[AgentEventRow]>
        var finalStatus: JobRecord.Status?
        var live: AsyncStream<JobEventHub.Item>.Iterator?
        var last: Int
        let subscription: Subscription

        public mutating func next() async -> JobEventHub.Item? {
            if let row = stored.next() {
                last = row.sequence
                return .event(row)
            }
            if let status = finalStatus {
                finalStatus = nil
                live = nil
                return .done(status)
            }
            while let item = await live?.next() {
                guard case .event(let row) = item else {
                    if case .done = item { live = nil }
                    return item
                }
                if row.sequence <= last { continue }  // stored and published both: already given
                guard row.sequence == last + 1 else {
                    live = nil  // the backlog overflowed: end here, the follower reads on from the store
                    return nil
                }
                last = row.sequence
                return item
            }
            live = nil
            return nil
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(stored: stored.makeIterator(), finalStatus: finalStatus,
                      live: finalStatus == nil ? live.makeAsyncIterator() : nil, last: after, subscription: subscription)
    }
}
