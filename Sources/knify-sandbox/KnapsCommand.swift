import ArgumentParser
import Foundation
import Storage

/// What operators ask about knaps while the server runs (or not): which exist, when they fire next, how runs went.
struct KnapsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knaps",
        abstract: "List knaps and their runs (read from the store).",
        subcommands: [List.self, Runs.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "Every knap of every user: owner, type, visibility, next run.")
        @Flag(help: "Print a JSON array.") var json = false
        @OptionGroup var store: StoreOptions

        struct View: Encodable {
            var uuid: String
            var name: String
            var creationUserId: String
            var scheduleType: String
            var isActive: Bool
            var visibility: String
            var nextRunAt: String?
            var timezone: String
            enum CodingKeys: String, CodingKey {
                case uuid, name, visibility, timezone
                case creationUserId = "creation_user_id", scheduleType = "schedule_type", isActive = "is_active", nextRunAt = "next_run_at"
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(uuid, forKey: .uuid)
                try container.encode(name, forKey: .name)
                try container.encode(creationUserId, forKey: .creationUserId)
                try container.encode(scheduleType, forKey: .scheduleType)
                try container.encode(isActive, forKey: .isActive)
                try container.encode(visibility, forKey: .visibility)
                try container.encode(nextRunAt, forKey: .nextRunAt)
                try container.encode(timezone, forKey: .timezone)
            }
        }

        func run() async throws {
            let knaps: [KnapRecord]
            do {
                knaps = try await store.open().allKnaps()
            } catch {
                throw fail(error)
            }
            let views = knaps.map {
                View(uuid: $0.uuid, name: $0.name, creationUserId: $0.creationUserId, scheduleType: $0.scheduleType,
                     isActive: $0.isActive, visibility: $0.visibility, nextRunAt: $0.nextRunAt.map(isoString), timezone: $0.timezone)
            }
            if json { return try printJSON(views) }
            printTable(["UUID", "NAME", "OWNER", "TYPE", "ACTIVE", "VISIBILITY", "NEXT RUN"], views.map {
                [$0.uuid, $0.name, $0.creationUserId, $0.scheduleType, $0.isActive ? "yes" : "no", $0.visibility, $0.nextRunAt ?? "-"]
            })
        }
    }

    struct Runs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A knap's runs, newest first, with their jobs' status.")
        @Argument(help: "The knap's uuid.") var uuid: String
        @Option(help: "At most this many runs.") var limit = 50
        @Flag(help: "Print a JSON array.") var json = false
        @OptionGroup var store: StoreOptions

        struct View: Encodable {
            var runId: String
            var jobId: String
            var chatId: String
            var trigger: String
            var status: String
            var slotAt: String?
            var createdAt: String
            var note: String?
            enum CodingKeys: String, CodingKey {
                case runId = "run_id", jobId = "job_id", chatId = "chat_id", trigger, status, slotAt = "slot_at"
                case createdAt = "created_at", note
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(runId, forKey: .runId)
                try container.encode(jobId, forKey: .jobId)
                try container.encode(chatId, forKey: .chatId)
                try container.encode(trigger, forKey: .trigger)
                try container.encode(status, forKey: .status)
                try container.encode(slotAt, forKey: .slotAt)
                try container.encode(createdAt, forKey: .createdAt)
                try container.encode(note, forKey: .note)
            }
        }

        func run() async throws {
            let runs: [KnapRunStatus]
            do {
                let database = try await store.open()
                guard try await database.knap(uuid: uuid.lowercased()) != nil else { throw notFound("knap \(uuid)") }
                runs = try await database.runs(knapUUID: uuid.lowercased(), limit: max(1, limit))
            } catch let exit as ExitCode {
                throw exit
            } catch {
                throw fail(error)
            }
            let views = runs.map {
                View(runId: $0.run.id, jobId: $0.run.jobId, chatId: $0.run.chatId, trigger: $0.run.trigger,
                     status: $0.status ?? "pending", slotAt: $0.run.slotAt.map(isoString), createdAt: isoString($0.run.createdAt),
                     note: $0.run.note)
            }
            if json { return try printJSON(views) }
            printTable(["RUN", "JOB", "TRIGGER", "STATUS", "SLOT", "CREATED", "NOTE"], views.map {
                [$0.runId, $0.jobId, $0.trigger, $0.status, $0.slotAt ?? "-", $0.createdAt, $0.note ?? ""]
            })
        }
    }
}
