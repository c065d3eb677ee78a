import Foundation
import Hummingbird
import HummingbirdTesting
import KnifyServer
import Testing

@Suite("HTTP basics")
struct HealthTests {
    @Test("GET / answers the reference's health document")
    func health() async throws {
        let app = buildApplication(ServerConfiguration())
        try await app.test(.router) { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: String]
                #expect(body == ["status": "ok", "version": "0.1.0"])
            }
        }
    }
}
