import ArgumentParser
import Foundation
import Storage

struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Create, list and revoke Knaps API clients (client credentials for POST /api/oauth/token).",
        discussion: "The secret is stored only as a SHA-256 hash and printed once, at creation.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct ClientView: Encodable {
        var clientId: String
        var name: String
        var userId: String
        var org: String?
        var orgAdmin: Bool
        var createdAt: String
        var revokedAt: String?

        init(_ record: ClientRecord) {
            clientId = record.id
            name = record.name
            userId = record.userId
            org = record.org
            orgAdmin = record.orgAdmin
            createdAt = isoString(record.createdAt)
            revokedAt = record.revokedAt.map { isoString($0) }
        }

        enum CodingKeys: String, CodingKey {
            case clientId = "client_id", name, userId = "user_id", org, orgAdmin = "org_admin"
            case createdAt = "created_at", revokedAt = "revoked_at"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(clientId, forKey: .clientId)
            try container.encode(name, forKey: .name)
            try container.encode(userId, forKey: .userId)
            try container.encode(org, forKey: .org)
            try container.encode(orgAdmin, forKey: .orgAdmin)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(revokedAt, forKey: .revokedAt)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a client and print its secret once.",
            discussion: "Example: knify-sandbox client create --name zapier --user u_42 --org acme --org-admin --json")
        @Option(help: "A name to recognise the client by.") var name: String
        @Option(help: "The user the client acts for.") var user: String
        @Option(help: "The organisation the user belongs to.") var org: String?
        @Flag(name: .customLong("org-admin"), help: "The user administers the organisation's knaps.") var orgAdmin = false
        @Flag(help: "Print a JSON object: client_id, client_secret, name, user_id, org, org_admin, created_at, revoked_at.") var json = false
        @OptionGroup var store: StoreOptions

        func validate() throws {
            guard !user.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--user must not be empty") }
            if orgAdmin && org == nil { throw ValidationError("--org-admin needs --org") }
        }

        func run() async throws {
            let made = ClientRecord.make(name: name, userId: user, org: org, orgAdmin: orgAdmin)
            do {
                try await store.open().insertClient(made.record)
            } catch {
                throw fail(error)
            }
            if json {
                struct Created: Encodable {
                    var secret: String
                    var view: ClientView
                    enum CodingKeys: String, CodingKey { case secret = "client_secret" }
                    func encode(to encoder: any Encoder) throws {
                        try view.encode(to: encoder)
                        var container = encoder.container(keyedBy: CodingKeys.self)
                        try container.encode(secret, forKey: .secret)
                    }
                }
                try printJSON(Created(secret: made.secret, view: ClientView(made.record)))
            } else {
                print("client_id:     \(made.record.id)")
                print("client_secret: \(made.secret)")
                var stderr = FileHandle.standardError
                print("the secret is shown once: keep it now", to: &stderr)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List clients (never their secrets).")
        @Flag(help: "Print a JSON array.") var json = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let clients: [ClientRecord]
            do {
                clients = try await store.open().clients()
            } catch {
                throw fail(error)
            }
            if json { return try printJSON(clients.map(ClientView.init)) }
            printTable(["CLIENT ID", "NAME", "USER", "ORG", "ADMIN", "STATE"], clients.map {
                [$0.id, $0.name, $0.userId, $0.org ?? "-", $0.orgAdmin ? "yes" : "no", $0.isRevoked ? "revoked" : "active"]
            })
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a client: its tokens stop working.")
        @Argument(help: "The client's id (knc_…).") var clientId: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let revoked: Bool
            do {
                revoked = try await store.open().revokeClient(id: clientId)
            } catch {
                throw fail(error)
            }
            guard revoked else { throw notFound("client \(clientId)") }
            print("revoked \(clientId)")
        }
    }
}
