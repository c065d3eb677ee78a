import CompressNIO
import Foundation
import Hummingbird
import Jobs
import MultipartKit
import Storage

/// `POST /workspaces` (multipart: `name`, `workspace` = a .tar.gz) and `GET /workspaces`. Checking the archive's
/// entries and unpacking it is `WorkspaceRoot`'s job; this file handles the HTTP framing and the gzip layer.
struct WorkspaceRoutes {
    let jobs: JobExecutor
    /// The largest upload accepted (compressed).
    let maximumUploadBytes: Int

    func register(on router: some RouterMethods<KnifyRequestContext>) {
        router.post("/workspaces", use: upload)
        router.get("/workspaces", use: list)
    }

    struct WorkspaceView: Encodable {
        var workspaceId: String
        var name: String
        var path: String
        var createdAt: String
        enum CodingKeys: String, CodingKey { case workspaceId = "workspace_id", name, path, createdAt = "created_at" }

        init(_ record: WorkspaceRecord) {
            workspaceId = record.id
            name = record.name
            path = WorkspaceRoot.apiPrefix + record.name
            createdAt = ISO8601.string(record.createdAt)
        }
    }

    struct Form: Decodable {
        var name: String
        var workspace: Data
    }

    @Sendable func upload(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<WorkspaceView> {
        let principal = try context.require(.jobsWrite)
        guard let contentType = request.headers[.contentType], contentType.lowercased().hasPrefix("multipart/form-data"),
              let boundary = Self.boundary(contentType) else {
            throw APIError.badRequest("send multipart/form-data with the fields name and workspace (a .tar.gz file)")
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maximumUploadBytes)
        } catch {
            throw APIError.tooLarge("uploads are limited to \(maximumUploadBytes >> 20) MiB")
        }
        let form: Form
        do {
            form = try FormDataDecoder().decode(Form.self, from: body, boundary: boundary)
        } catch {
            throw APIError.badRequest("the form needs a text field 'name' and a file field 'workspace' (a .tar.gz)")
        }
        let tar = try Self.gunzip(form.workspace, limit: Int(jobs.configuration.workspaces.maximumBytes) + (1 << 20))
        let record = try await jobs.installWorkspace(name: form.name, tar: tar, tenant: principal.tenant)
        context.logger.info("workspace uploaded", metadata: ["workspace": .string(record.name), "bytes": .stringConvertible(record.sizeBytes)])
        return JSONReply(WorkspaceView(record))
    }

    @Sendable func list(_ request: Request, context: KnifyRequestContext) async throws -> JSONReply<[String: [WorkspaceView]]> {
        let principal = try context.require(.jobsRead)
        return JSONReply(["data": try await jobs.workspaces(tenant: principal.tenantFilter).map(WorkspaceView.init)])
    }

    static func boundary(_ contentType: String) -> String? {
        for part in contentType.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }

    static func gunzip(_ data: Data, limit: Int) throws -> [UInt8] {
        guard data.count > 2, data[data.startIndex] == 0x1f, data[data.startIndex + 1] == 0x8b else {
            throw APIError.badRequest("workspace must be a gzip-compressed tar (.tar.gz)")
        }
        var buffer = ByteBuffer(bytes: data)
        do {
            let tar = try buffer.decompress(with: .gzip(), maxSize: limit)
            return Array(buffer: tar)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw APIError.tooLarge("the workspace unpacks to more than \(limit >> 20) MiB")
        } catch {
            throw APIError.badRequest("workspace is not a valid gzip stream")
        }
    }
}
