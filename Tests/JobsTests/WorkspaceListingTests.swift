import DockerEngine
import Foundation
@testable import Jobs
import KnifyTestSupport
import Sandboxes
import Testing

@Suite("Workspace listings bring small changed files along (real sandbox)", .timeLimit(.minutes(2)))
struct WorkspaceListingTests {
    func sh(_ harness: JobHarness, _ sandbox: String, _ script: String) async throws {
        let run = try await harness.sandboxes.run(sandbox, ExecSpec(cmd: ["sh", "-c", script], workingDir: "/workspace"),
                                                  timeout: .seconds(30))
        #expect(run.result.exitCode == 0, "\(script): \(run.result.stderrText)")
    }

    @Test("all: every small file inline, byte for byte; large ones only listed")
    func inlineAll() async throws {
        try await JobHarness().run { harness in
            let sandbox = try await harness.sandboxes.acquire(.init()).record.id
            try await sh(harness, sandbox, """
                printf 'one\\n' > a.txt && mkdir -p 'd d' && printf 'two\\0three' > 'd d/b c.bin' \
                && head -c 300000 /dev/zero > big.bin
                """)
            let listing = try await harness.executor.snapshot(sandbox, inline: .all)
            #expect(Set(listing.checksums.keys) == ["a.txt", "d d/b c.bin", "big.bin"])
            #expect(listing.checksums["a.txt"] == "5bbf5a52328e7439ae6e719dfe712200")  // md5 of "one\n"
            #expect(listing.contents["a.txt"] == Array("one\n".utf8))
            #expect(listing.contents["d d/b c.bin"] == Array("two\u{0}three".utf8))
            #expect(listing.contents["big.bin"] == nil, "over \(JobExecutor.inlineMaximumBytes) bytes: read through the archive API")
        }
    }

    @Test("modified since the last listing: only what changed after it comes inline; a plain listing brings nothing")
    func inlineModified() async throws {
        try await JobHarness().run { harness in
            let sandbox = try await harness.sandboxes.acquire(.init()).record.id
            try await sh(harness, sandbox, "printf old > old.txt")
            let plain = try await harness.executor.snapshot(sandbox)
            #expect(Set(plain.checksums.keys) == ["old.txt"])
            #expect(plain.contents.isEmpty)
            // Back-date what exists and the marker the listing left, instead of waiting out a clock second.
            try await sh(harness, sandbox, """
                touch -d '1999-01-01 00:00:00' old.txt && touch -d '2000-01-01 00:00:00' \(JobExecutor.listingMarker) \
                && printf new > new.txt
                """)
            let listing = try await harness.executor.snapshot(sandbox, inline: .modifiedSinceLastListing)
            #expect(Set(listing.checksums.keys) == ["old.txt", "new.txt"])
            #expect(listing.contents == ["new.txt": Array("new".utf8)])
        }
    }

    @Test("the separator splits checksums from the tar; output without one is only checksums")
    func parsing() throws {
        var writer = TarWriter()
        writer.addFile("./x", contents: Array("hi".utf8))
        var second = TarWriter()
        second.addFile("./y", contents: Array("yo".utf8))
        // Two archives one after another, as two tar runs print them.
        let output = Array("0123456789abcdef0123456789abcdef  ./x\n\n--sep--\n".utf8) + writer.finish() + second.finish()
        let listing = JobExecutor.parseListing(output, separator: "--sep--")
        #expect(listing.checksums == ["x": "0123456789abcdef0123456789abcdef"])
        #expect(listing.contents == ["x": Array("hi".utf8), "y": Array("yo".utf8)])
        #expect(JobExecutor.parseListing(Array("0123  ./y\n".utf8), separator: "--sep--").contents.isEmpty)
    }
}
