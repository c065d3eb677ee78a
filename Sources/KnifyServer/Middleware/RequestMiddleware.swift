import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Storage

extension HTTPField.Name {
    static let requestId = Self("X-Request-Id")!
    static let rateLimitLimit = Self("X-RateLimit-Limit")!
    static let rateLimitRemaining = Self("X-RateLimit-Remaining")!
    static let rateLimitReset = Self("X-RateLimit-Reset")!
    static let lastEventId = Self("Last-Event-ID")!
}

/// The outermost middleware: gives the request an id, turns every error into the `{error, detail, code}` envelope (`{detail}` under `/api/`, the Knaps API)
/// (never a stack, never Hummingbird's plain text), and writes one structured log line per request.
struct RequestMiddleware: RouterMiddleware {
    typealias Context = KnifyRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let incoming = request.headers[.requestId]
        let requestId = incoming.flatMap { $0.range(of: #"^[A-Za-z0-9._-]{1,64}$"#, options: .regularExpression) != nil ? $0 : nil }
            ?? "req_" + RandomID.base62(16)
        context.requestId = requestId
        var metadata: Logger.Metadata = ["request_id": .string(requestId)]
        // `/jobs/<id>/…`: the job id goes on every line this request logs.
        let path = request.uri.path
        if path.hasPrefix("/jobs/"), let id = path.dropFirst(6).split(separator: "/", maxSplits: 1).first {
            metadata["job"] = .string(String(id))
        }
        // Set at once: a stream log handler renders its metadata again at every change.
        context.logger.handler.metadata.merge(metadata) { $1 }
        let started = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let apiError = APIError(from: error)
            if apiError.status.code >= 500 {
                context.logger.error("request failed", metadata: ["error": .string(apiError.cause ?? "\(error)")])
            }
            response = apiError.response(.init(path: request.uri.path))
        }
        response.headers[.requestId] = requestId
        let elapsed = Double((ContinuousClock.now - started) / .microseconds(1)) / 1000
        context.logger.info("request", metadata: [
            "method": .string(request.method.rawValue), "path": .string(request.uri.path),
            "status": .stringConvertible(response.status.code), "ms": .stringConvertible(elapsed),
        ])
        return response
    }
}
