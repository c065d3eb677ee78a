import Foundation
import Metrics
import Synchronization

/// A whole reply, read to the end.
struct EngineResponse: Sendable {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
}

/// Sends requests to one engine socket: buffered replies, or replies whose body is streamed as it arrives.
struct EngineTransport: Sendable {
    let socketPath: String

    func send(_ request: CurlTransfer.Request) async throws(DockerError) -> EngineResponse {
        let started = ContinuousClock.now
        defer { Self.recordLatency(request, since: started) }
        let sink = BufferedSink()
        let transfer = try CurlTransfer(request, sink: sink)
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    sink.continuation = continuation
                    CurlMulti.shared.submit(transfer)
                }
            } onCancel: {
                CurlMulti.shared.cancel(transfer, reason: DockerError(.cancelled, "request cancelled"))
            }
        } catch let error as DockerError {
            throw error
        } catch {
            throw DockerError(.transport, "unexpected failure", cause: error)
        }
    }

    /// Answers once the reply's status and headers are in. A status of 300 or more is read to the end and thrown as
    /// a `DockerError`; otherwise the body arrives through the returned chunks. Ending the iteration early (or
    /// dropping the sequence) cancels the transfer.
    ///
    /// With `awaitHead: false` it answers at once and an error reply is thrown by the iteration instead: for replies
    /// whose headers the engine holds back until there is a body (`/events` on 20.10 waits for the first event).
    /// `knify_engine_request_seconds{method, resource}`: resource is the path's first part after the version
    /// (`containers`, `exec`, …), so the label set stays small.
    static func recordLatency(_ request: CurlTransfer.Request, since started: ContinuousClock.Instant) {
        let parts = request.path.split(separator: "?", maxSplits: 1).first?.split(separator: "/") ?? []
        let resource = parts.count > 1 ? String(parts[1]) : String(parts.first ?? "_ping")
        Metrics.Timer(label: "knify_engine_request_seconds", dimensions: [("method", request.method), ("resource", resource)])
            .recordSeconds(Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000)
    }

    func stream(_ request: CurlTransfer.Request, awaitHead: Bool = true) async throws(DockerError) -> ByteChunks {
        let (chunks, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        let sink = StreamingSink(continuation: continuation, context: "\(request.method) \(request.path.prefix(while: { $0 != "?" }))")
        let transfer = try CurlTransfer(request, sink: sink)
        sink.transfer = transfer
        continuation.onTermination = { termination in
            if case .cancelled = termination {
                CurlMulti.shared.cancel(transfer, reason: DockerError(.cancelled, "stream cancelled"))
            }
        }
        guard awaitHead else {
            CurlMulti.shared.submit(transfer)
            return ByteChunks(base: chunks, sink: sink)
        }
        do {
            _ = try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { headContinuation in
                    sink.setHeadContinuation(headContinuation)
                    CurlMulti.shared.submit(transfer)
                }
            } onCancel: {
                CurlMulti.shared.cancel(transfer, reason: DockerError(.cancelled, "stream cancelled"))
            }
            return ByteChunks(base: chunks, sink: sink)
        } catch let error as DockerError {
            throw error
        } catch {
            throw DockerError(.transport, "unexpected failure", cause: error)
        }
    }
}

/// A streamed body. Consuming it tells the transfer how much buffer is free, which unpauses a paused transfer: a
/// flood of output costs at most `StreamingSink.highWater` bytes of memory per stream.
struct ByteChunks: AsyncSequence, Sendable {
    typealias Element = [UInt8]
    let base: AsyncThrowingStream<[UInt8], any Error>
    let sink: StreamingSink

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator
        let sink: StreamingSink

        mutating func next() async throws(DockerError) -> [UInt8]? {
            do {
                guard let chunk = try await base.next() else { return nil }
                sink.consumed(chunk.count)
                return chunk
            } catch let error as DockerError {
                throw error
            } catch is CancellationError {
                throw DockerError(.cancelled, "stream cancelled")
            } catch {
                throw DockerError(.transport, "stream failed", cause: error)
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), sink: sink) }
}

/// Collects a whole reply and resumes the caller when the transfer ends.
final class BufferedSink: CurlSink, @unchecked Sendable {
    /// Set before the transfer is submitted; touched afterwards only on the loop thread.
    var continuation: CheckedContinuation<EngineResponse, any Error>?
    private var response = EngineResponse(status: 0, headers: [:], body: [])

    func head(status: Int, headers: [String: String]) {
        response.status = status
        response.headers = headers
    }

    func body(_ bytes: UnsafeRawBufferPointer) -> Bool {
        response.body.append(contentsOf: bytes)
        return true
    }

    func finish(error: DockerError?) {
        if let error { continuation?.resume(throwing: error) } else { continuation?.resume(returning: response) }
        continuation = nil
    }
}

/// Hands chunks to an async consumer as they arrive, pausing the transfer when the consumer falls behind.
final class StreamingSink: CurlSink, @unchecked Sendable {
    static let highWater = 4 << 20
    static let lowWater = 1 << 20

    private struct Flow {
        var buffered = 0
        var paused = false
    }

    private let continuation: AsyncThrowingStream<[UInt8], any Error>.Continuation
    private let flow = Mutex(Flow())
    private let headContinuation = Mutex<CheckedContinuation<EngineResponse, any Error>?>(nil)
    weak var transfer: CurlTransfer?
    // Loop-thread state: an error reply is read whole, then thrown instead of streamed.
    private var errorReply: EngineResponse?

    private let context: String

    init(continuation: AsyncThrowingStream<[UInt8], any Error>.Continuation, context: String) {
        self.continuation = continuation
        self.context = context
    }

    func setHeadContinuation(_ continuation: CheckedContinuation<EngineResponse, any Error>) {
        headContinuation.withLock { $0 = continuation }
    }

    private func resumeHead(_ result: Result<EngineResponse, DockerError>) {
        headContinuation.withLock { continuation in
            continuation?.resume(with: result.mapError { $0 as any Error })
            continuation = nil
        }
    }

    func head(status: Int, headers: [String: String]) {
        if status >= 300 {
            errorReply = EngineResponse(status: status, headers: headers, body: [])
        } else {
            resumeHead(.success(EngineResponse(status: status, headers: headers, body: [])))
        }
    }

    func body(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if errorReply != nil {
            errorReply?.body.append(contentsOf: bytes)
            return true
        }
        let accepted = flow.withLock { flow -> Bool in
            if flow.buffered >= Self.highWater {
                flow.paused = true
                return false
            }
            flow.buffered += bytes.count
            return true
        }
        if accepted { continuation.yield(Array(bytes)) }
        return accepted
    }

    func consumed(_ count: Int) {
        let resume = flow.withLock { flow -> Bool in
            flow.buffered -= count
            guard flow.paused, flow.buffered <= Self.lowWater else { return false }
            flow.paused = false
            return true
        }
        if resume, let transfer { CurlMulti.shared.resume(transfer) }
    }

    func finish(error: DockerError?) {
        if let reply = errorReply {
            let error = DockerError.fromStatus(reply.status, body: reply.body, context: context)
            resumeHead(.failure(error))
            continuation.finish(throwing: error)
            return
        }
        if let error {
            resumeHead(.failure(error))
            continuation.finish(throwing: error)
        } else {
            continuation.finish()
        }
    }
}
