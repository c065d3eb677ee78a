import DockerEngine
import KnifyTestSupport
import Testing

@Suite("Exec streams against the real engine")
struct DockerClientExecTests {
    let client = TestEngine.client

    @Test("interleaved stdout and stderr arrive demultiplexed and in order per stream")
    func interleaved() async throws {
        try await TestEngine.withContainer { id in
            let script = "i=0; while [ $i -lt 300 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done"
            let result = try await client.exec(in: id, "sh", "-c", script)
            #expect(result.exitCode == 0)
            #expect(result.stdoutText == (0..<300).map { "out\($0)\n" }.joined())
            #expect(result.stderrText == (0..<300).map { "err\($0)\n" }.joined())
        }
    }

    @Test("output larger than 1 MiB on both streams arrives whole")
    func largeOutput() async throws {
        try await TestEngine.withContainer { id in
            let script = "head -c 3000000 /dev/zero | tr '\\0' 'o'; head -c 1500000 /dev/zero | tr '\\0' 'e' >&2"
            let result = try await client.exec(in: id, "sh", "-c", script)
            #expect(result.exitCode == 0)
            #expect(result.stdout.count == 3_000_000)
            #expect(result.stdout.allSatisfy { $0 == UInt8(ascii: "o") })
            #expect(result.stderr.count == 1_500_000)
            #expect(result.stderr.allSatisfy { $0 == UInt8(ascii: "e") })
        }
    }

    @Test("a slow consumer of a flood gets every byte (the transfer pauses instead of buffering it all)")
    func slowConsumer() async throws {
        try await TestEngine.withContainer { id in
            let execId = try await client.createExec(in: id, ExecSpec(cmd: ["sh", "-c", "head -c 12000000 /dev/zero"]))
            var total = 0
            for try await chunk in try await client.startExec(execId) {
                if case .stdout(let bytes) = chunk { total += bytes.count }
                await Task.yield()
            }
            #expect(total == 12_000_000)
            #expect(try await client.inspectExec(execId).exitCode == 0)
        }
    }

    @Test("exit codes: 0, non-zero, 126 not executable, 127 not found", arguments: [
        (["true"], [0]),
        (["sh", "-c", "exit 42"], [42]),
        (["/etc/passwd"], [126]),
        (["sh", "-c", "no-such-command-knify"], [127]),
        // runc before 1.1 (Debian's 20.10) reports a missing exec binary as 126, newer ones as 127.
        (["no-such-command-knify"], [126, 127]),
    ])
    func exitCodes(cmd: [String], expected: [Int]) async throws {
        try await TestEngine.withContainer { id in
            let result = try await client.exec(in: id, ExecSpec(cmd: cmd))
            #expect(expected.contains(result.exitCode))
        }
    }

    @Test("twenty exec streams in parallel each get their own output")
    func parallelStreams() async throws {
        try await TestEngine.withContainer { id in
            try await withThrowingTaskGroup(of: (Int, ExecResult).self) { group in
                for index in 0..<20 {
                    group.addTask {
                        let script = "i=0; while [ $i -lt 2000 ]; do echo stream\(index)-$i; i=$((i+1)); done; echo done\(index) >&2"
                        return (index, try await client.exec(in: id, "sh", "-c", script))
                    }
                }
                var seen = Set<Int>()
                for try await (index, result) in group {
                    seen.insert(index)
                    #expect(result.exitCode == 0)
                    #expect(result.stdoutText == (0..<2000).map { "stream\(index)-\($0)\n" }.joined())
                    #expect(result.stderrText == "done\(index)\n")
                }
                #expect(seen.count == 20)
            }
        }
    }

    @Test("cancelling the consumer ends a long stream; the process keeps running until killed")
    func cancelStream() async throws {
        try await TestEngine.withContainer { id in
            let execId = try await client.createExec(in: id, ExecSpec(cmd: ["sh", "-c", "echo started; exec sleep 600"]))
            let stream = try await client.startExec(execId)
            let (started, signal) = AsyncStream<Void>.makeStream()
            let reader = Task { () throws -> Int in
                var chunks = 0
                for try await _ in stream {
                    chunks += 1
                    signal.yield()
                }
                return chunks
            }
            for await _ in started { break }
            reader.cancel()
            // The reader ends although the process would stream for ten more minutes.
            switch await reader.result {
            case .success(let chunks): #expect(chunks == 1)
            case .failure(let error): #expect((error as? DockerError)?.code == .cancelled)
            }
            // Closing the stream does not kill the process: the engine still reports it running.
            #expect(try await client.inspectExec(execId).running)
        }
    }
}
