import CCurl
import Foundation

/// Receives one transfer's reply. Every call happens on the curl loop thread, in order: `head` once, `body` any number
/// of times, `finish` once.
protocol CurlSink: AnyObject {
    func head(status: Int, headers: [String: String])
    /// Returns false to pause the transfer; the same bytes are offered again after `CurlMulti.resume`.
    func body(_ bytes: UnsafeRawBufferPointer) -> Bool
    func finish(error: DockerError?)
}

/// One HTTP exchange over the engine socket: an easy handle plus what it needs to stay alive until it ends.
final class CurlTransfer: @unchecked Sendable {
    struct Request {
        var method: String
        /// Path and query, already versioned and encoded: `/v1.41/containers/json?all=true`.
        var path: String
        var socketPath: String
        var headers: [String] = []
        var body: [UInt8]? = nil
        var timeoutSeconds: Double? = nil
    }

    /// `KNIFY_CURL_VERBOSE=1` makes libcurl trace every transfer on stderr (engine debugging only).
    static let verbose = ProcessInfo.processInfo.environment["KNIFY_CURL_VERBOSE"] == "1"

    let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let sink: CurlSink
    private let context: String
    // Loop-thread state.
    private var status = 0
    private var headers: [String: String] = [:]
    private var headDelivered = false
    private var finished = false
    private(set) var cancelledBeforeStart: DockerError?

    init(_ request: Request, sink: CurlSink) throws(DockerError) {
        guard let easy = curl_easy_init() else { throw DockerError(.transport, "curl_easy_init failed") }
        self.easy = easy
        self.sink = sink
        self.context = "\(request.method) \(request.path.prefix(while: { $0 != "?" }))"
        configure(request)
    }

    deinit {
        curl_easy_cleanup(easy)
        if let headerList { curl_slist_free_all(headerList) }
    }

    private func configure(_ request: Request) {
        knify_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        if Self.verbose { knify_curl_setopt_long(easy, CURLOPT_VERBOSE, 1) }
        knify_curl_setopt_string(easy, CURLOPT_UNIX_SOCKET_PATH, request.socketPath)
        // With a Unix socket the host part is ignored.
        knify_curl_setopt_string(easy, CURLOPT_URL, "http://localhost" + request.path)
        knify_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, 5_000)
        if let timeout = request.timeoutSeconds {
            knify_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
        }
        switch request.method {
        case "GET": knify_curl_setopt_long(easy, CURLOPT_HTTPGET, 1)
        case "HEAD": knify_curl_setopt_long(easy, CURLOPT_NOBODY, 1)
        default:
            // A body (even empty) makes it a POST; CUSTOMREQUEST renames it for PUT and DELETE.
            let body = request.body ?? []
            knify_curl_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            body.withUnsafeBufferPointer { buffer in
                // COPYPOSTFIELDS copies, so the Swift buffer need not outlive this call.
                let base = UnsafeRawPointer(buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!)
                knify_curl_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base))
            }
            if request.method != "POST" { knify_curl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method) }
        }
        // "Expect:" stops curl from waiting for 100-continue before large uploads (build contexts, archives).
        for header in request.headers + ["Expect:"] { headerList = curl_slist_append(headerList, header) }
        knify_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList)

        let me = Unmanaged.passUnretained(self).toOpaque()
        knify_curl_setopt_pointer(easy, CURLOPT_PRIVATE, me)
        knify_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, me)
        knify_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, me)
        knify_curl_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            guard let data, let context else { return 0 }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
            transfer.headerLine(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }
        knify_curl_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            guard let data, let context else { return 0 }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
            transfer.deliverHead()
            return transfer.sink.body(UnsafeRawBufferPointer(start: data, count: size * count))
                ? size * count : knify_curl_writefunc_pause()
        }
    }

    private func headerLine(_ bytes: UnsafeRawBufferPointer) {
        let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            // A new status line (after a 1xx) starts the header set again.
            let parts = line.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            headers = [:]
        } else if line.isEmpty {
            // End of the headers. Hand them over now: some replies (events on 20.10) send no body for a long time.
            if status >= 200 { deliverHead() }
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].lowercased()
            headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }

    private func deliverHead() {
        guard !headDelivered else { return }
        headDelivered = true
        sink.head(status: status, headers: headers)
    }

    /// Loop thread: the transfer ended (successfully or not).
    func complete(result: CURLcode) {
        if result == CURLE_OK {
            deliverHead()
            finish(error: nil)
        } else {
            finish(error: Self.error(for: result, context: context))
        }
    }

    /// Loop thread. Idempotent: a cancel racing a completion reports only the first.
    func finish(error: DockerError?) {
        guard !finished else { return }
        finished = true
        sink.finish(error: error)
    }

    func markCancelledBeforeStart(_ reason: DockerError) {
        if !finished { cancelledBeforeStart = reason }
    }

    static func error(for code: CURLcode, context: String) -> DockerError {
        let text = String(cString: curl_easy_strerror(code))
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_GOT_NOTHING, CURLE_SEND_ERROR,
             CURLE_RECV_ERROR, CURLE_PARTIAL_FILE:
            return DockerError(.engineUnavailable, "\(context): the Docker engine did not answer (\(text))")
        case CURLE_OPERATION_TIMEDOUT:
            return DockerError(.transport, "\(context): timed out (\(text))")
        default:
            return DockerError(.transport, "\(context): \(text) (curl \(code.rawValue))")
        }
    }
}
