/// One piece of a container's output.
public enum OutputChunk: Sendable, Equatable {
    case stdout([UInt8])
    case stderr([UInt8])
}

/// Splits the engine's multiplexed stream (exec and logs without a TTY) into stdout and stderr.
///
/// Each frame is an 8-byte header `[stream, 0, 0, 0, size (UInt32, big-endian)]` and `size` bytes of payload; curl
/// hands over chunks of at most 16 KiB, so a header or payload may straddle any number of `feed` calls.
public struct StreamDemultiplexer: Sendable {
    private var pending: [UInt8] = []
    private var offset = 0

    public init() {}

    /// The frames completed by these bytes. Stream 3 (an engine error) is thrown as `.streamError`.
    public mutating func feed(_ bytes: [UInt8]) throws(DockerError) -> [OutputChunk] {
        pending.append(contentsOf: bytes)
        var chunks: [OutputChunk] = []
        while pending.count - offset >= 8 {
            let header = offset
            let size = Int(pending[header + 4]) << 24 | Int(pending[header + 5]) << 16
                | Int(pending[header + 6]) << 8 | Int(pending[header + 7])
            guard pending.count - header - 8 >= size else { break }
            let payload = Array(pending[(header + 8)..<(header + 8 + size)])
            offset = header + 8 + size
            switch pending[header] {
            case 0, 1: chunks.append(.stdout(payload))
            case 2: chunks.append(.stderr(payload))
            case 3: throw DockerError(.streamError, String(decoding: payload, as: UTF8.self))
            default:
                throw DockerError(.decoding, "unknown stream \(pending[header]) in a multiplexed engine stream")
            }
        }
        // Compact once the consumed prefix dominates, keeping appends amortised O(1).
        if offset > 0, offset * 2 >= pending.count {
            pending.removeFirst(offset)
            offset = 0
        }
        return chunks
    }

    /// Bytes of a frame that has not been completed yet: non-zero when a stream ends is a truncated stream.
    public var bufferedByteCount: Int { pending.count - offset }
}

/// A container's output as it arrives, as stdout/stderr chunks. Iterate it once.
public struct OutputStream: AsyncSequence, Sendable {
    public typealias Element = OutputChunk
    let chunks: ByteChunks
    /// False for TTY streams, whose bytes are all stdout.
    let multiplexed: Bool

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: ByteChunks.AsyncIterator
        let multiplexed: Bool
        var demultiplexer = StreamDemultiplexer()
        var ready: [OutputChunk] = []

        public mutating func next() async throws(DockerError) -> OutputChunk? {
            while ready.isEmpty {
                guard let bytes = try await chunks.next() else {
                    if demultiplexer.bufferedByteCount > 0 {
                        throw DockerError(.streamError, "the engine stream ended inside a frame")
                    }
                    return nil
                }
                ready = multiplexed ? try demultiplexer.feed(bytes) : [.stdout(bytes)]
                ready.reverse()
            }
            return ready.removeLast()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: chunks.makeAsyncIterator(), multiplexed: multiplexed)
    }
}
