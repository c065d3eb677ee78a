import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `knify-bench sse-clients`: N Server-Sent Events clients on one job's stream, read by one thread through poll(2), so
/// the harness costs microseconds per message and the server's fan-out is what gets measured (a Python asyncio
/// reader saturated a core at 1,000 clients and put its own queueing into the number).
///
/// Delivery latency is the arrival time minus the event's `timestamp` (the moment Knify parsed the agent's line, same
/// host clock), for every event of every client after all of them were connected. Prints one JSON object.
struct SSEFanOut: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sse-clients",
        abstract: "Open N SSE clients on one job's stream and report the delivery latency of its events as JSON."
    )

    @Option(help: "Knify's port on 127.0.0.1.") var port: Int
    @Option(help: "The job whose /cursor/stream is followed.") var job: String
    @Option(help: "Clients.") var clients = 1000
    @Option(help: "Seconds before giving up on streams that have not ended.") var timeout = 120.0
    @Option(help: "The environment variable holding the API key (kept off the command line).") var keyVariable = "KNIFY_BENCH_KEY"

    func run() throws {
        guard let key = ProcessInfo.processInfo.environment[keyVariable], !key.isEmpty else {
            throw ValidationError("set \(keyVariable) to an API key with jobs:read")
        }
        let request = Array("GET /jobs/\(job)/cursor/stream HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer \(key)\r\nAccept: text/event-stream\r\n\r\n".utf8)
        var streams: [Stream] = []
        var watched: [pollfd] = []
        for _ in 0..<clients {
            let socket = try Self.connect(port: port)
            guard request.withUnsafeBytes({ send(socket, $0.baseAddress, $0.count, 0) }) == request.count else {
                throw ValidationError("sending the request failed: errno \(errno)")
            }
            _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
            watched.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0))
            streams.append(Stream())
        }

        // Latencies count from the moment every client has its stream open (the preamble comment arrived).
        var open = 0
        var measuringSince = Double.infinity
        var latencies: [Double] = []
        latencies.reserveCapacity(clients * 64)
        var ended = 0
        let deadline = Self.now() + timeout
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while ended < clients, Self.now() < deadline {
            let ready = poll(&watched, nfds_t(watched.count), 200)
            if ready < 0 && errno == EINTR { continue }
            guard ready >= 0 else { throw ValidationError("poll failed: errno \(errno)") }
            for index in watched.indices where watched[index].revents != 0 {
                let socket = watched[index].fd
                var stream = streams[index]
                let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
                if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { continue }
                let arrived = Self.now()
                if count <= 0 {
                    stream.ended = true
                } else {
                    stream.buffer.append(contentsOf: chunk[0..<count])
                    for line in stream.takeLines() {
                        if !stream.open, line.starts(with: Self.preamble) {
                            stream.open = true
                            open += 1
                            if open == clients { measuringSince = arrived }
                        }
                        guard line.starts(with: Self.dataPrefix) else { continue }
                        if line.starts(with: Self.donePrefix) {
                            stream.ended = true
                            break
                        }
                        stream.received += 1
                        if let sent = Self.timestamp(in: line), sent >= measuringSince {
                            latencies.append((arrived - sent) * 1000)
                        }
                    }
                }
                if stream.ended {
                    ended += 1
                    close(socket)
                    watched[index].fd = -1  // poll skips negative descriptors
                }
                streams[index] = stream
            }
        }
        for entry in watched where entry.fd >= 0 { close(entry.fd) }

        let received = streams.map(\.received)
        let report: [String: Any] = [
            "clients": clients, "opened": open, "ended": ended, "samples": latencies.count,
            "events_per_client_min": received.min() ?? 0,
            "p50_ms": Self.percentile(latencies, 50) as Any, "p99_ms": Self.percentile(latencies, 99) as Any,
            "max_ms": latencies.max() as Any,
        ]
        let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    private struct Stream {
        var buffer: [UInt8] = []
        var open = false
        var ended = false
        var received = 0

        /// Complete lines (without their "\n"), leaving a partial one in the buffer.
        mutating func takeLines() -> [ArraySlice<UInt8>] {
            var lines: [ArraySlice<UInt8>] = []
            var start = buffer.startIndex
            while let end = buffer[start...].firstIndex(of: 0x0A) {
                lines.append(buffer[start..<end])
                start = end + 1
            }
            buffer = Array(buffer[start...])
            return lines
        }
    }

    static let preamble = Array(": stream of".utf8)
    static let dataPrefix = Array("data: ".utf8)
    static let donePrefix = Array(#"data: {"type":"done""#.utf8)
    static let timestampKey = Array(#""timestamp":""#.utf8)

    static func connect(port: Int) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw ValidationError("socket failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw ValidationError("connecting to 127.0.0.1:\(port) failed: errno \(errno)") }
        return socket
    }

    /// Wall-clock seconds: the events' timestamps are wall-clock too.
    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// The `"timestamp":"YYYY-MM-DDTHH:MM:SS.mmmZ"` of a data line, in seconds since 1970.
    static func timestamp(in line: ArraySlice<UInt8>) -> Double? {
        guard let at = line.firstRange(of: timestampKey)?.upperBound, line.distance(from: at, to: line.endIndex) >= 24 else { return nil }
        let text = Array(line[at..<line.index(at, offsetBy: 24)])
        func number(_ from: Int, _ count: Int) -> Int32? {
            var value: Int32 = 0
            for byte in text[from..<from + count] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int32(byte - 0x30)
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
              let minute = number(14, 2), let second = number(17, 2), let millis = number(20, 3) else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Double(timegm(&parts)) + Double(millis) / 1000
    }

    /// The same nearest-rank percentile as bench/http_bench.py.
    static func percentile(_ values: [Double], _ p: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count) + 0.5).rounded()) - 1
        return sorted[min(sorted.count - 1, max(0, rank))]
    }
}
