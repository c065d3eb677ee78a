import CCurl
import Foundation
import Synchronization

/// Drives every transfer of the process from one thread through one libcurl multi handle.
///
/// Why a multi handle and not a thread per request: Knify holds many long streams at once (an exec stream per running
/// agent, the events stream, follow-mode logs), and one `curl_multi_poll` loop serves them all without a thread each.
/// Each transfer still has its own easy handle, configured on the caller's thread and touched only by the loop thread
/// once submitted, so no easy handle is ever used from two threads. Callers hand work over through a locked queue and
/// `curl_multi_wakeup`. The multi handle also keeps the connection cache, so requests reuse the Unix-socket connection.
final class CurlMulti: @unchecked Sendable {
    static let shared = CurlMulti()

    private enum Command {
        case add(CurlTransfer)
        case cancel(CurlTransfer, DockerError)
        case resume(CurlTransfer)
    }

    private let multi: UnsafeMutableRawPointer
    private let queue = Mutex<[Command]>([])
    /// Only the loop thread reads or writes this.
    private var active: [ObjectIdentifier: CurlTransfer] = [:]

    private init() {
        _ = knify_curl_global_init()
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed: libcurl is unusable") }
        self.multi = multi
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "knify-curl"
        thread.start()
    }

    func submit(_ transfer: CurlTransfer) { enqueue(.add(transfer)) }

    func cancel(_ transfer: CurlTransfer, reason: DockerError) { enqueue(.cancel(transfer, reason)) }

    /// Unpauses a transfer whose consumer has drained its buffer (see `CurlTransfer.consumed`).
    func resume(_ transfer: CurlTransfer) { enqueue(.resume(transfer)) }

    private func enqueue(_ command: Command) {
        queue.withLock { $0.append(command) }
        curl_multi_wakeup(multi)
    }

    private func run() {
        while true {
            let commands = queue.withLock { queue -> [Command] in
                defer { queue.removeAll(keepingCapacity: true) }
                return queue
            }
            for command in commands { apply(command) }

            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            collectFinished()
            var ready: Int32 = 0
            curl_multi_poll(multi, nil, 0, 1000, &ready)
        }
    }

    private func apply(_ command: Command) {
        switch command {
        case .add(let transfer):
            if let reason = transfer.cancelledBeforeStart {
                transfer.finish(error: reason)
                return
            }
            active[ObjectIdentifier(transfer)] = transfer
            let code = curl_multi_add_handle(multi, transfer.easy)
            if code != CURLM_OK {
                active[ObjectIdentifier(transfer)] = nil
                transfer.finish(error: DockerError(.transport, "curl_multi_add_handle failed: \(code.rawValue)"))
            }
        case .cancel(let transfer, let reason):
            guard active.removeValue(forKey: ObjectIdentifier(transfer)) != nil else {
                transfer.markCancelledBeforeStart(reason)
                return
            }
            curl_multi_remove_handle(multi, transfer.easy)
            transfer.finish(error: reason)
        case .resume(let transfer):
            guard active[ObjectIdentifier(transfer)] != nil else { return }
            curl_easy_pause(transfer.easy, knify_curl_pause_continue())
        }
    }

    private func collectFinished() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let result = message.pointee.data.result
            var pointer: UnsafeMutableRawPointer?
            knify_curl_getinfo_pointer(easy, CURLINFO_PRIVATE, &pointer)
            curl_multi_remove_handle(multi, easy)
            guard let pointer else { continue }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(pointer).takeUnretainedValue()
            active[ObjectIdentifier(transfer)] = nil
            transfer.complete(result: result)
        }
    }
}
