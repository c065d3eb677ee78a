import Foundation
import Knaps
import Storage
import Testing

@Suite struct KnapAuthTests {
    /// A store with one client of alice's in acme; the clock is the tests'.
    func setUp() async throws -> (auth: KnapAuth, store: SQLiteStore, clock: TestClock, client: ClientRecord, secret: String) {
        let store = try SQLiteStore()
        let clock = TestClock(utc("2026-03-01T12:00:00Z"))
        let (secret, client) = ClientRecord.make(name: "ci", userId: "alice", org: "acme", orgAdmin: true)
        try await store.insertClient(client)
        return (KnapAuth(store: store, now: { clock.now }), store, clock, client, secret)
    }

    @Test func clientCredentialsGiveAnHourLongTokenThatNamesTheCaller() async throws {
        let (auth, store, clock, client, secret) = try await setUp()
        let grant = try await auth.grant(clientId: client.id, secret: secret)
        #expect(grant.tokenType == "Bearer" && grant.expiresIn == 3600 && !grant.scope.isEmpty)
        #expect(grant.accessToken != grant.refreshToken)
        let caller = try await auth.caller(token: grant.accessToken)
        #expect(caller == KnapCaller(clientId: client.id, userId: "alice", org: "acme", orgAdmin: true))
        // Only hashes are stored.
        #expect(try await store.token(hash: grant.accessToken) == nil)
        #expect(try await store.token(hash: APIKeys.hash(grant.accessToken))?.kind == .access)

        clock.advance(3599)
        #expect(try await auth.caller(token: grant.accessToken) == caller)
        clock.advance(1)
        await expectUnauthorized("expired") { try await auth.caller(token: grant.accessToken) }
    }

    @Test func aRefreshTokenIsSpentOnceAndGivesANewPair() async throws {
        let (auth, _, clock, client, secret) = try await setUp()
        let first = try await auth.grant(clientId: client.id, secret: secret)
        clock.advance(7200)
        let second = try await auth.refresh(token: first.refreshToken, clientId: nil)
        #expect(try await auth.caller(token: second.accessToken).userId == "alice")
        await expectUnauthorized("refresh token") { try await auth.refresh(token: first.refreshToken, clientId: nil) }
        await expectUnauthorized("refresh token") { try await auth.refresh(token: second.refreshToken, clientId: "knc_someone_else") }
        // An access token is not a refresh token, nor the other way round.
        await expectUnauthorized("refresh token") { try await auth.refresh(token: second.accessToken, clientId: nil) }
        await expectUnauthorized("malformed") { try await auth.caller(token: second.refreshToken) }
    }

    @Test func wrongSecretsUnknownClientsAndRevocationsAreRefused() async throws {
        let (auth, store, _, client, secret) = try await setUp()
        await expectUnauthorized("invalid client credentials") { try await auth.grant(clientId: client.id, secret: secret + "x") }
        await expectUnauthorized("invalid client credentials") { try await auth.grant(clientId: "knc_nobody", secret: secret) }
        await expectUnauthorized("malformed") { try await auth.caller(token: "Bearer") }
        await expectUnauthorized("unknown") { try await auth.caller(token: "knat_" + String(repeating: "a", count: 40)) }

        let grant = try await auth.grant(clientId: client.id, secret: secret)
        try await auth.revoke(token: grant.accessToken)
        await expectUnauthorized("revoked") { try await auth.caller(token: grant.accessToken) }

        let other = try await auth.grant(clientId: client.id, secret: secret)
        try await store.revokeClient(id: client.id)
        await expectUnauthorized("revoked") { try await auth.caller(token: other.accessToken) }
        await expectUnauthorized("refresh token") { try await auth.refresh(token: other.refreshToken, clientId: nil) }
        await expectUnauthorized("invalid client credentials") { try await auth.grant(clientId: client.id, secret: secret) }
    }

    private func expectUnauthorized<T>(_ text: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T) async {
        do {
            _ = try await body()
            Issue.record("expected 401", sourceLocation: sourceLocation)
        } catch let error as KnapError {
            #expect(error.code == .unauthorized, sourceLocation: sourceLocation)
            #expect(error.message.contains(text), "\(error.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }
}
