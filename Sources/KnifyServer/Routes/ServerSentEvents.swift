import Hummingbird

/// The one way Knify writes Server-Sent Events: frames as they come, `: keep-alive` comments while nothing does, and
/// a bound on what is buffered for a slow reader (past it the stream is closed; the client resumes).
enum ServerSentEvents {
    /// One event's frame. Every line of `data` gets its own `data:` field, so a payload with line breaks still
    /// arrives whole (the client joins them with "\n"); line breaks in `id` and `event` — which would end the field
    /// early and inject another — become spaces.
    static func frame(id: String? = nil, event: String? = nil, data: String) -> String {
        func field(_ name: String, _ value: String) -> String { "\(name): \(value)\n" }
        func oneLine(_ value: String) -> String {
            String(value.unicodeScalars.map { $0 == "\n" || $0 == "\r" ? " " : Character($0) })
        }
        var frame = ""
        if let id { frame += field("id", oneLine(id)) }
        if let event { frame += field("event", oneLine(event)) }
        // JSON on one line, the usual payload, is written as it is.
        guard data.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) else { return frame + field("data", data) + "\n" }
        // CRLF, CR and LF all end a line in an event stream (split by scalar: "\r\n" is one Character).
        var line = String.UnicodeScalarView()
        var afterCR = false
        for scalar in data.unicodeScalars {
            defer { afterCR = scalar == "\r" }
            if afterCR, scalar == "\n" { continue }
            if scalar == "\n" || scalar == "\r" {
                frame += field("data", String(line))
                line = String.UnicodeScalarView()
            } else {
                line.append(scalar)
            }
        }
        frame += field("data", String(line))
        return frame + "\n"
    }

    static let keepAlive = ": keep-alive\n\n"

    /// Any source: each element framed by `frame`, with `: keep-alive` comments added every `keepAlive`, through a
    /// buffer of `backlog` frames (past it the stream is closed; the client resumes). Costs two tasks per client,
    /// fine for a knap run's few readers; a job's stream, read by many, brings its own (`response(frames:)`).
    static func response<Source: AsyncSequence & Sendable>(
        _ source: Source, keepAlive: Duration, backlog: Int = 10_000, preamble: String? = nil,
        frame: @escaping @Sendable (Source.Element) -> String
    ) -> Response where Source.Element: Sendable {
        streaming(preamble: preamble) { writer in
            let (frames, output) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingOldest(backlog))
            let pump = Task {
                do {
                    for try await element in source {
                        if case .dropped = output.yield(frame(element)) { break }
                    }
                } catch {}
                output.finish()
            }
            let ticker = Task {
                while (try? await Task.sleep(for: keepAlive)) != nil { output.yield(Self.keepAlive) }
            }
            defer {
                pump.cancel()
                ticker.cancel()
            }
            for await frame in frames { try await writer.write(ByteBuffer(string: frame)) }
        }
    }

    /// Frames written as the source yields them, with no task in between: the source brings its own keep-alives
    /// and bounds its own backlog.
    static func response<Frames: AsyncSequence & Sendable>(frames: Frames, preamble: String? = nil) -> Response
        where Frames.Element == String
    {
        streaming(preamble: preamble) { writer in
            for try await frame in frames { try await writer.write(ByteBuffer(string: frame)) }
        }
    }

    private static func streaming(preamble: String?, _ write: @escaping @Sendable (inout any ResponseBodyWriter) async throws -> Void) -> Response {
        let body = ResponseBody { writer in
            // A comment first, so the client sees the headers and knows the stream is open.
            if let preamble { try await writer.write(ByteBuffer(string: ": \(preamble)\n\n")) }
            try await write(&writer)
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [
            .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no",
        ], body: body)
    }
}
