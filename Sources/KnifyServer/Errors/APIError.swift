import Foundation
import HTTPTypes
import Hummingbird
import Jobs
import Knaps

/// The one error the HTTP edge answers with: `{error, detail, code}` as the reference documents it. Every failure of
/// a lower layer is mapped to it once, here.
public struct APIError: Error, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let error: String
    public let detail: String
    /// Extra headers: `Retry-After`, rate-limit headers added on the way out.
    public var headers: HTTPFields = [:]
    /// What went wrong underneath, for the log only: never sent to the client.
    var cause: String?

    public init(_ status: HTTPResponse.Status, _ code: String, _ error: String, detail: String) {
        self.status = status
        self.code = code
        self.error = error
        self.detail = detail
    }

    static func badRequest(_ detail: String) -> APIError { APIError(.badRequest, "BAD_REQUEST", "Bad request", detail: detail) }
    static func notFound(_ detail: String) -> APIError { APIError(.notFound, "NOT_FOUND", "Not found", detail: detail) }
    static func unauthorized(_ detail: String) -> APIError {
        var error = APIError(.unauthorized, "UNAUTHORIZED", "Unauthorized", detail: detail)
        error.headers[.wwwAuthenticate] = "Bearer"
        return error
    }
    static func forbidden(_ detail: String) -> APIError { APIError(.forbidden, "FORBIDDEN", "Forbidden", detail: detail) }
    static func tooLarge(_ detail: String) -> APIError { APIError(.contentTooLarge, "PAYLOAD_TOO_LARGE", "Payload too large", detail: detail) }
    static func internalError(_ detail: String = "the server failed; the request id in X-Request-Id finds it in the log") -> APIError {
        APIError(.internalServerError, "INTERNAL_ERROR", "Internal server error", detail: detail)
    }

    /// The envelope for any error thrown below the edge. Unknown errors become a 500 without internals.
    public init(from error: any Error) {
        switch error {
        case let error as APIError:
            self = error
        case let error as JobError:
            self = APIError(job: error)
        case let error as KnapError:
            self = APIError(knap: error)
        case let error as HTTPError:
            self = APIError(http: error)
        case let error as any HTTPResponseError:
            self = APIError(http: HTTPError(error.status))
        default:
            self = .internalError()
            cause = "\(error)"
        }
    }

    private init(job error: JobError) {
        switch error.code {
        case .invalidSpec: self = .badRequest(error.message)
        case .notFound: self = .notFound(error.message)
        case .conflict: self = APIError(.conflict, "CONFLICT", "Conflict", detail: error.message)
        case .tooLarge: self = .tooLarge(error.message)
        case .storageFull: self = APIError(.insufficientStorage, "STORAGE_FULL", "Insufficient storage", detail: error.message)
        case .sandbox where error.engineUnavailable:
            self = APIError(.serviceUnavailable, "SANDBOX_UNAVAILABLE", "Sandbox engine unavailable", detail: error.message)
        case .sandbox: self = APIError(.internalServerError, "SANDBOX_ERROR", "Sandbox error", detail: error.message)
        default:
            self = .internalError()
            cause = error.description
        }
    }

    private init(knap error: KnapError) {
        switch error.code {
        case .invalid: self = .badRequest(error.message)
        case .unauthorized: self = .unauthorized(error.message)
        case .forbidden: self = .forbidden(error.message)
        case .notFound: self = .notFound(error.message)
        case .conflict: self = APIError(.conflict, "CONFLICT", "Conflict", detail: error.message)
        case .unavailable:
            self = APIError(.serviceUnavailable, "SANDBOX_UNAVAILABLE", "Sandbox engine unavailable", detail: error.message)
        default:
            self = .internalError()
            cause = error.description
        }
    }

    /// Hummingbird's own errors: unmatched routes, unsupported methods, bodies over the upload limit.
    private init(http error: HTTPError) {
        let detail = error.body ?? error.status.reasonPhrase
        switch error.status.code {
        case 400: self = .badRequest(detail)
        case 401: self = .unauthorized(detail)
        case 403: self = .forbidden(detail)
        case 404: self = .notFound("no such route")
        case 405: self = APIError(.methodNotAllowed, "METHOD_NOT_ALLOWED", "Method not allowed", detail: detail)
        case 413: self = .tooLarge("the request body is over the limit")
        case 400..<500: self = APIError(error.status, "BAD_REQUEST", error.status.reasonPhrase, detail: detail)
        default: self = .internalError()
        }
        headers.append(contentsOf: error.headers)
    }

    private struct Envelope: Encodable {
        let error: String
        let detail: String
        let code: String
    }

    /// Knapsack's shape: `{"detail": …}` alone.
    private struct DetailOnly: Encodable {
        let detail: String
    }

    /// The Knify job API answers `{error, detail, code}`; the Knaps API (paths under `/api/`) answers `{detail}`.
    enum Shape {
        case envelope, detailOnly

        init(path: String) { self = path.hasPrefix("/api/") ? .detailOnly : .envelope }
    }

    func response(_ shape: Shape = .envelope) -> Response {
        let encoded = switch shape {
        case .envelope: try? JSONEncoder().encode(Envelope(error: error, detail: detail, code: code))
        case .detailOnly: try? JSONEncoder().encode(DetailOnly(detail: detail))
        }
        let body = encoded ?? Data()
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension HTTPResponse.Status {
    /// 507: the server's disk is full (RFC 4918); HTTPTypes has no name for it.
    static let insufficientStorage = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
}
