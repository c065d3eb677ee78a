import ArgumentParser
import Foundation
import Storage

struct APIKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api-key",
        abstract: "Create, list and revoke the API keys clients send as Authorization: Bearer.",
        discussion: """
            Keys are stored only as a SHA-256 hash: the key is printed once, at creation. The server reads the same \
            store, so a new key works at once.
            """,
        subcommands: [Create.self, List.self, Revoke.self]
    )

    /// What listings show of a key: never the secret, only its first characters.
    struct KeyView: Encodable {
        var keyId: String
        var name: String
        var prefix: String
        var scopes: [String]
        var workspaceId: String
        var tier: String
        var rateLimitPerHour: Int?
        var createdAt: String
        var revokedAt: String?

        init(_ record: APIKeyRecord) {
            keyId = record.id
            name = record.name
            prefix = record.prefix
            scopes = record.scopes
            workspaceId = record.tenant
            tier = record.tier
            rateLimitPerHour = record.rateLimitPerHour
            createdAt = isoString(record.createdAt)
            revokedAt = record.revokedAt.map { isoString($0) }
        }

        enum CodingKeys: String, CodingKey {
            case keyId = "key_id", name, prefix, scopes, workspaceId = "workspace_id", tier
            case rateLimitPerHour = "rate_limit_per_hour", createdAt = "created_at", revokedAt = "revoked_at"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(keyId, forKey: .keyId)
            try container.encode(name, forKey: .name)
            try container.encode(prefix, forKey: .prefix)
            try container.encode(scopes, forKey: .scopes)
            try container.encode(workspaceId, forKey: .workspaceId)
            try container.encode(tier, forKey: .tier)
            try container.encode(rateLimitPerHour, forKey: .rateLimitPerHour)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(revokedAt, forKey: .revokedAt)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key and print it once.",
            discussion: "Example: knify-sandbox api-key create --name ci --scopes jobs:read,jobs:write --workspace team-a --tier pro --json"
        )
        static let scopes = ["jobs:read", "jobs:write", "admin"]
        static let tiers = ["free", "pro", "enterprise"]

        @Option(help: "A name to recognise the key by.") var name: String
        @Option(help: "Comma-separated scopes: jobs:read, jobs:write, admin.") var scopes: String
        @Option(help: "The workspace (tenant) whose jobs the key sees.") var workspace = "default"
        @Option(help: "Rate-limit tier: free (100/h), pro (1,000/h) or enterprise (--rate-limit).") var tier = "free"
        @Option(name: .customLong("rate-limit"), help: "Requests per hour, for enterprise keys.") var rateLimit: Int?
        @Flag(help: "Make a knify_test_ key instead of knify_live_.") var test = false
        @Flag(help: "Revoke the active keys of the same name first (rotation).") var replace = false
        @Flag(help: "Print a JSON object: api_key, key_id, name, scopes, workspace_id, tier, rate_limit_per_hour, created_at.") var json = false
        @OptionGroup var store: StoreOptions

        func validate() throws {
            let requested = scopeList
            guard !requested.isEmpty, requested.allSatisfy(Self.scopes.contains) else {
                throw ValidationError("--scopes takes a comma-separated list of \(Self.scopes.joined(separator: ", "))")
            }
            guard Self.tiers.contains(tier) else { throw ValidationError("--tier must be one of \(Self.tiers.joined(separator: ", "))") }
            if let rateLimit {
                guard tier == "enterprise" else { throw ValidationError("--rate-limit is for --tier enterprise; the other tiers have fixed limits") }
                guard rateLimit > 0 else { throw ValidationError("--rate-limit must be at least 1") }
            }
            guard workspace.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"#, options: .regularExpression) != nil else {
                throw ValidationError("--workspace takes 1-64 letters, digits, '.', '_' or '-'")
            }
        }

        var scopeList: [String] {
            scopes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }

        func run() async throws {
            let made = APIKeys.make(name: name, scopes: scopeList, tenant: workspace, tier: tier, rateLimitPerHour: rateLimit,
                                    environment: test ? .test : .live)
            do {
                let store = try await store.open()
                if replace {
                    for old in try await store.apiKeys() where old.name == name && !old.isRevoked {
                        try await store.revokeAPIKey(id: old.id)
                    }
                }
                try await store.insertAPIKey(made.record)
            } catch {
                throw fail(error)
            }
            if json {
                struct Created: Encodable {
                    var apiKey: String
                    var view: KeyView
                    enum CodingKeys: String, CodingKey { case apiKey = "api_key" }
                    func encode(to encoder: any Encoder) throws {
                        try view.encode(to: encoder)
                        var container = encoder.container(keyedBy: CodingKeys.self)
                        try container.encode(apiKey, forKey: .apiKey)
                    }
                }
                try printJSON(Created(apiKey: made.key, view: KeyView(made.record)))
            } else {
                print(made.key)
                var stderr = FileHandle.standardError
                print("key \(made.record.id) (\(scopeList.joined(separator: ","))) for workspace \(workspace), tier \(tier): shown once, keep it now",
                      to: &stderr)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never the keys themselves).")
        @Flag(help: "Print a JSON array.") var json = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let keys: [APIKeyRecord]
            do {
                keys = try await store.open().apiKeys()
            } catch {
                throw fail(error)
            }
            if json { return try printJSON(keys.map(KeyView.init)) }
            let rows = keys.map { key in
                [key.id, key.name, key.prefix + "…", key.scopes.joined(separator: ","), key.tenant, key.tier, key.isRevoked ? "revoked" : "active"]
            }
            printTable(["ID", "NAME", "PREFIX", "SCOPES", "WORKSPACE", "TIER", "STATE"], rows)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: it stops working at once.")
        @Argument(help: "The key's id (key_…), as api-key list shows it.") var keyId: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let revoked: Bool
            do {
                revoked = try await store.open().revokeAPIKey(id: keyId)
            } catch {
                throw fail(error)
            }
            guard revoked else { throw notFound("key \(keyId)") }
            print("revoked \(keyId)")
        }
    }
}

/// A plain aligned table for people; `--json` is the format for scripts.
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows {
        for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
    }
    for row in [header] + rows {
        print(row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  "))
    }
}
