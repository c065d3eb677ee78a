import Hummingbird

/// The one way Knify writes Server-Sent Events: frames as they come, `: keep-alive` comments while nothing does, and
/// a bound on what is buffered for a slow reader (past it the stream is closed; the client resumes).
enum ServerSentEvents {
    static func response<Source: AsyncSequence & Sendable>(
        _ source: Source, keepAlive: Duration, backlog: Int = 10_000, preamble: String? = nil,
        frame: @escaping @Sendable (Source.Element) -> String
    ) -> Response where Source.Element: Sendable {
        let body = ResponseBody { writer in
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
                while true {
                    do { try await Task.sleep(for: keepAlive) } catch { return }
                    output.yield(": keep-alive\n\n")
                }
            }
            defer {
                pump.cancel()
                ticker.cancel()
            }
            // A comment first, so the client sees the headers and knows the stream is open.
            if let preamble { try await writer.write(ByteBuffer(string: ": \(preamble)\n\n")) }
            for await frame in frames {
                try await writer.write(ByteBuffer(string: frame))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [
            .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no",
        ], body: body)
    }
}
