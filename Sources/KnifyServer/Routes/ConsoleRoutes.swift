import Crypto
import Foundation
import Hummingbird
import Storage

/// `GET /console` and `GET /console/<asset>`: the web console, plain HTML/CSS/JS embedded in the binary (nothing
/// outside the machine is reachable, so no CDN). No key is needed to load it: the page holds no data until the
/// operator signs in with an API key, which it sends only as `Authorization: Bearer` on its own API calls.
struct ConsoleRoutes {
    func register(on router: some RouterMethods<KnifyRequestContext>) {
        router.get("/console", use: index)
        router.get("/console/**", use: asset)
    }

    @Sendable func index(_ request: Request, context: KnifyRequestContext) throws -> Response {
        try Self.reply(name: "index.html", request: request)
    }

    @Sendable func asset(_ request: Request, context: KnifyRequestContext) throws -> Response {
        let name = context.parameters.getCatchAll().joined(separator: "/")
        return try Self.reply(name: name.isEmpty ? "index.html" : name, request: request)
    }

    /// The asset with the console's security headers; 304 when the browser already holds this version.
    static func reply(name: String, request: Request) throws -> Response {
        guard let asset = ConsoleAsset.all[name] else {
            throw APIError.notFound("no console asset \(name.prefix(80))")
        }
        var headers = securityHeaders
        headers[.contentType] = asset.contentType
        headers[.eTag] = asset.etag
        // Assets change with the binary, not with time: revalidate every load, answer 304 when unchanged.
        headers[.cacheControl] = "no-cache"
        if request.headers[.ifNoneMatch] == asset.etag {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.body))
    }

    /// Agent output rendered by the console is untrusted: only the console's own scripts and styles may run
    /// (no inline script or style, no other origin), nothing may frame it, and forms never submit anywhere (the
    /// key field is read by script, so a submission that slipped past it cannot put the key in a URL).
    static let contentSecurityPolicy = [
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
        "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ].joined(separator: "; ")

    /// (`frame-ancestors` does what X-Frame-Options did; the page's own `<meta name="referrer">` sends no referrer.)
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: contentSecurityPolicy,
        .xContentTypeOptions: "nosniff",
    ]
}

/// One embedded console file (`Sources/KnifyServer/Console/`; SwiftPM flattens the folder into `PackageResources`).
struct ConsoleAsset: Sendable {
    let contentType: String
    let body: ByteBuffer
    let etag: String

    init(_ name: String, _ bytes: [UInt8]) {
        contentType = switch (name as NSString).pathExtension {
        case "html": "text/html; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "svg": "image/svg+xml"
        default: "application/octet-stream"
        }
        body = ByteBuffer(bytes: bytes)
        etag = "\"" + SHA256.hash(data: bytes).prefix(12).hexEncoded + "\""
    }

    /// Every file of the console by the name the page asks for. A new file in `Console/` must be listed here (a
    /// test checks the folder and this table agree).
    static let all: [String: ConsoleAsset] = [
        "index.html": ConsoleAsset("index.html", PackageResources.index_html),
        "console.css": ConsoleAsset("console.css", PackageResources.console_css),
        "favicon.svg": ConsoleAsset("favicon.svg", PackageResources.favicon_svg),
        "app.js": ConsoleAsset("app.js", PackageResources.app_js),
        "api.js": ConsoleAsset("api.js", PackageResources.api_js),
        "dom.js": ConsoleAsset("dom.js", PackageResources.dom_js),
        "chart.js": ConsoleAsset("chart.js", PackageResources.chart_js),
        "jobs.js": ConsoleAsset("jobs.js", PackageResources.jobs_js),
        "job.js": ConsoleAsset("job.js", PackageResources.job_js),
        "transcript.js": ConsoleAsset("transcript.js", PackageResources.transcript_js),
        "artifacts.js": ConsoleAsset("artifacts.js", PackageResources.artifacts_js),
        "admin.js": ConsoleAsset("admin.js", PackageResources.admin_js),
    ]
}
