import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Spawns a child with an empty signal mask and default signal actions.
///
/// Foundation's `Process` spawns from whatever thread calls it and the child inherits that thread's signal mask; on
/// the test runner's worker threads nearly every signal is blocked, and busybox `sh` then waits forever in `wait`
/// for a SIGCHLD that never arrives. The real agents run through the engine's exec, which does not have this
/// problem, so only the tests need this.
enum ChildProcess {
    struct Failure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// Runs `argv` (an absolute executable first) with stdin from /dev/null and stdout/stderr into files; returns
    /// the exit code, or 128 + the signal number.
    static func run(_ argv: [String], environment: [String: String], cwd: String, stdout: String, stderr: String)
        throws -> Int32
    {
        guard let executable = argv.first else { throw Failure(message: "empty argv") }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // glibc ≥ 2.29 has it, but Swift's Glibc module does not export it.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else {
            throw Failure(message: "posix_spawn_file_actions_addchdir_np is unavailable")
        }
        typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>)
            -> Int32
        _ = unsafeBitCast(symbol, to: AddChdir.self)(&actions, cwd)

        let arguments = argv.map { strdup($0) } + [nil]
        let variables = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            arguments.forEach { free($0) }
            variables.forEach { free($0) }
        }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, arguments, variables)
        guard spawned == 0 else { throw Failure(message: "posix_spawn \(executable): \(String(cString: strerror(spawned)))") }

        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { throw Failure(message: "waitpid: \(String(cString: strerror(errno)))") }
        }
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }
}
