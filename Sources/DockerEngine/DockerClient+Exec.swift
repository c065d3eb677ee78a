import Foundation

/// A process to run inside a running container.
public struct ExecSpec: Sendable, Equatable {
    public var cmd: [String]
    public var env: [String]
    public var user: String?
    public var workingDir: String?
    public var tty: Bool

    public init(cmd: [String], env: [String] = [], user: String? = nil, workingDir: String? = nil, tty: Bool = false) {
        self.cmd = cmd
        self.env = env
        self.user = user
        self.workingDir = workingDir
        self.tty = tty
    }
}

public struct ExecDetails: Decodable, Sendable {
    /// Nil while the process runs.
    public let exitCode: Int?
    public let running: Bool
    public let pid: Int

    enum CodingKeys: String, CodingKey { case exitCode = "ExitCode", running = "Running", pid = "Pid" }
}

/// A finished exec: everything it wrote and how it ended.
public struct ExecResult: Sendable {
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    public var exitCode: Int

    public init(stdout: [UInt8] = [], stderr: [UInt8] = [], exitCode: Int = -1) {
        self.stdout = stdout
        self.stderr = stderr
        self.exitCode = exitCode
    }

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

extension DockerClient {
    /// Creates an exec instance; a paused container answers 409.
    public func createExec(in container: String, _ spec: ExecSpec) async throws(DockerError) -> String {
        struct Body: Encodable {
            let AttachStdin = false, AttachStdout = true, AttachStderr = true
            let Tty: Bool
            let Cmd: [String]
            let Env: [String]
            let User: String?
            let WorkingDir: String?
        }
        struct Reply: Decodable { let Id: String }
        var call = Call("POST", "/containers/\(container)/exec")
        try call.json(Body(Tty: spec.tty, Cmd: spec.cmd, Env: spec.env, User: spec.user, WorkingDir: spec.workingDir))
        return try await send(call, as: Reply.self).Id
    }

    /// Starts an exec instance and streams its output.
    ///
    /// No `Upgrade` header: the engine answers 200 and streams until the process ends. Ending the iteration closes the
    /// stream but does **not** kill the process — timeouts and cancellation must be enforced inside the sandbox.
    public func startExec(_ id: String, tty: Bool = false) async throws(DockerError) -> OutputStream {
        var call = Call("POST", "/exec/\(id)/start")
        try call.json(["Detach": false, "Tty": tty])
        let chunks = try await stream(call)
        return OutputStream(chunks: chunks, multiplexed: !tty)
    }

    public func inspectExec(_ id: String) async throws(DockerError) -> ExecDetails {
        try await send(Call("GET", "/exec/\(id)/json"), as: ExecDetails.self)
    }

    /// Runs a command to completion and collects its output (127: command not found, 126: not executable).
    public func exec(in container: String, _ spec: ExecSpec) async throws(DockerError) -> ExecResult {
        let id = try await createExec(in: container, spec)
        var result = ExecResult(stdout: [], stderr: [], exitCode: -1)
        for try await chunk in try await startExec(id, tty: spec.tty) {
            switch chunk {
            case .stdout(let bytes): result.stdout += bytes
            case .stderr(let bytes): result.stderr += bytes
            }
        }
        guard let exitCode = try await inspectExec(id).exitCode else {
            throw DockerError(.streamError, "exec \(id) closed its stream but has no exit code")
        }
        result.exitCode = exitCode
        return result
    }
}

extension DockerClient {
    /// Convenience for `exec(in:_:)` with just a command line.
    public func exec(in container: String, _ cmd: String...) async throws(DockerError) -> ExecResult {
        try await exec(in: container, ExecSpec(cmd: cmd))
    }
}
