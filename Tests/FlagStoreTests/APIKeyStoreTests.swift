import FlagModel
import FlagStore
import Foundation
import Testing

@Suite("API key rows")
struct APIKeyStoreTests {
    /// A database where the daemon has recorded shop/production.
    func database() throws -> PostgresConnection {
        let db = try TestDatabase.migrated()
        try SyncStore(connection: db).apply(Fixtures.first, commit: "c1")
        return db
    }

    let hash: [UInt8] = (0..<32).map { UInt8($0 * 7 % 256) }

    @Test func aKeyMadeBeforeTheFirstSyncWorksAndIsLinkedOnceTheEnvironmentIsRecorded() throws {
        let db = try TestDatabase.migrated()
        let keys = APIKeyStore(connection: db)
        #expect(try keys.isRecorded(project: "shop", environment: "production") == false)
        let id = try keys.create(
            project: "shop", environment: "production", type: "server", name: "web", prefix: "fs_abc",
            secretHash: hash, expiresAt: nil)
        let found = try #require(try keys.find(prefix: "fs_abc"))
        #expect(found.id == id)
        #expect(found.project == "shop")
        #expect(found.environment == "production")
        #expect(try db.query("SELECT environment_id FROM api_keys WHERE id = $1::bigint", [String(id)]) == [[nil]])

        try SyncStore(connection: db).apply(Fixtures.first, commit: "c1")
        #expect(try keys.isRecorded(project: "shop", environment: "production"))
        let linked = try db.query(
            """
            SELECT p.key, e.key FROM api_keys k JOIN environments e ON e.id = k.environment_id
            JOIN projects p ON p.id = e.project_id WHERE k.id = $1::bigint
            """, [String(id)])
        #expect(linked == [["shop", "production"]], "the sync filled in environment_id")
    }

    @Test func createdKeysListWithTheirHashAndDates() throws {
        let keys = APIKeyStore(connection: try database())
        let expires = Date(timeIntervalSince1970: 1_893_456_000.25)
        let server = try keys.create(
            project: "shop", environment: "production", type: "server", name: "web", prefix: "fs_srv1",
            secretHash: hash, expiresAt: expires)
        let client = try keys.create(
            project: "shop", environment: "production", type: "client", name: "app", prefix: "fs_cli1",
            secretHash: [0xff, 0x00], expiresAt: nil)
        let list = try keys.list()
        #expect(list.map(\.id) == [server, client])
        let first = try #require(list.first)
        #expect(first.project == "shop")
        #expect(first.environment == "production")
        #expect(first.type == "server")
        #expect(first.name == "web")
        #expect(first.prefix == "fs_srv1")
        #expect(first.secretHash == hash)
        #expect(first.expiresAt == expires)
        #expect(first.revokedAt == nil)
        #expect(first.lastUsedAt == nil)
        #expect(abs(first.createdAt.timeIntervalSinceNow) < 60)
        #expect(list.last?.secretHash == [0xff, 0x00])
        #expect(list.last?.expiresAt == nil)
        #expect(try keys.find(prefix: "fs_cli1")?.id == client)
        #expect(try keys.find(prefix: "fs_none") == nil)
    }

    @Test func aDuplicatePrefixOrUnknownTypeIsRefused() throws {
        let keys = APIKeyStore(connection: try database())
        _ = try keys.create(
            project: "shop", environment: "production", type: "admin", name: "ops", prefix: "fs_dup",
            secretHash: hash, expiresAt: nil)
        do {
            _ = try keys.create(
                project: "shop", environment: "production", type: "admin", name: "ops2", prefix: "fs_dup",
                secretHash: hash, expiresAt: nil)
            Issue.record("a second key with the same prefix")
        } catch {
            #expect(error.message.contains("prefix 'fs_dup' already exists"), "\(error)")
        }
        do {
            _ = try keys.create(
                project: "shop", environment: "production", type: "root", name: "x", prefix: "fs_x",
                secretHash: hash, expiresAt: nil)
            Issue.record("a key of an unknown type")
        } catch {
            #expect(error.message.contains("unknown key type 'root'"), "\(error)")
        }
        #expect(try keys.list().count == 1)
    }

    @Test func revokeOnceThenFalse() throws {
        let keys = APIKeyStore(connection: try database())
        let id = try keys.create(
            project: "shop", environment: "production", type: "server", name: "web", prefix: "fs_r",
            secretHash: hash, expiresAt: nil)
        #expect(try keys.revoke(id: id))
        #expect(try !keys.revoke(id: id))
        #expect(try !keys.revoke(id: 9_999))
        #expect(try keys.list().first?.revokedAt != nil)
    }

    @Test func lastUsedTimesAreWrittenTogetherAndNeverMoveBack() throws {
        let db = try database()
        let keys = APIKeyStore(connection: db)
        let a = try keys.create(
            project: "shop", environment: "production", type: "server", name: "a", prefix: "fs_a",
            secretHash: hash, expiresAt: nil)
        let b = try keys.create(
            project: "shop", environment: "production", type: "client", name: "b", prefix: "fs_b",
            secretHash: hash, expiresAt: nil)
        let t1 = Date(timeIntervalSince1970: 1_780_000_000.5)
        let t2 = Date(timeIntervalSince1970: 1_780_000_100.125)
        try keys.recordLastUsed([a: t1, b: t2, 12_345: t2])
        #expect(try keys.list().map(\.lastUsedAt) == [t1, t2])
        try keys.recordLastUsed([a: t2, b: t1])
        #expect(try keys.list().map(\.lastUsedAt) == [t2, t2])
        try keys.recordLastUsed([:])
    }
}
