import FlagModel
@testable import FlagStore
import Foundation
import Testing

@Suite("Audit hash chain")
struct AuditLogTests {
    /// A database with 8 chained rows: 4 from the first apply, 2 from the second, 2 rejections.
    func chain() throws -> PostgresConnection {
        let db = try TestDatabase.migrated()
        let store = SyncStore(connection: db)
        try store.apply(Fixtures.first, commit: "c1")
        var checkout = Fixtures.checkout
        checkout.enabled = false
        try store.apply(
            Fixtures.snapshot(flags: [checkout, Fixtures.banner], segments: [Fixtures.betaUsers], version: "v2"),
            commit: "c2")
        for commit in ["bad1", "bad2"] {
            _ = try store.recordRejection(
                organization: "acme", project: "shop", environment: "production", branch: "main", production: true,
                commit: commit, author: "Ada", message: "m", diagnostics: "[]", summary: "broken")
        }
        #expect(try db.count("audit_logs") == 8)
        return db
    }

    func ids(_ db: PostgresConnection) throws -> [Int64] {
        try db.query("SELECT id FROM audit_logs ORDER BY id").compactMap { $0[0].flatMap { Int64($0) } }
    }

    func tamper(_ db: PostgresConnection, _ sql: String) throws {
        try db.transaction { () throws(StoreError) in
            try db.query("SET LOCAL flagstaff.allow_audit_tamper = on")
            try db.query(sql)
        }
    }

    @Test func theChainIsValidAfterAppliesAndRejections() throws {
        let db = try chain()
        let result = try AuditLog.verify(on: db)
        #expect(result.isValid, "\(String(describing: result.firstBroken))")
        #expect(result.rowsChecked == 8)
        let links = try db.query("SELECT prev_hash, hash FROM audit_logs ORDER BY id")
        #expect(links.first?[0] == AuditLog.genesisHash)
        for i in links.indices.dropFirst() { #expect(links[i][0] == links[i - 1][1]) }
    }

    @Test func anEmptyLogIsValid() throws {
        let result = try AuditLog.verify(on: try TestDatabase.migrated())
        #expect(result.isValid)
        #expect(result.rowsChecked == 0)
    }

    @Test func anEditedRowIsNamed() throws {
        let db = try chain()
        let target = try ids(db)[4]
        try tamper(db, "UPDATE audit_logs SET after = jsonb_set(after, '{enabled}', 'true') WHERE id = \(target)")
        let broken = try #require(try AuditLog.verify(on: db).firstBroken)
        #expect(broken.id == target)
        #expect(broken.action == "flag.updated")
        #expect(broken.resource == "flag new-checkout in shop/production")
        #expect(broken.problem.contains("does not match its hash"))
        #expect(broken.description.contains("audit row \(target) (flag.updated, flag new-checkout in shop/production)"))
    }

    @Test func aChangedTimeOrActorIsCaughtToo() throws {
        let db = try chain()
        let rows = try ids(db)
        try tamper(
            db, "UPDATE audit_logs SET occurred_at = occurred_at + interval '1 microsecond' WHERE id = \(rows[1])")
        #expect(try AuditLog.verify(on: db).firstBroken?.id == rows[1])
        let fresh = try chain()
        let freshRows = try ids(fresh)
        try tamper(fresh, "UPDATE audit_logs SET actor = 'Mallory' WHERE id = \(freshRows[6])")
        #expect(try AuditLog.verify(on: fresh).firstBroken?.id == freshRows[6])
    }

    @Test func aDeletedMiddleRowIsReportedAtTheRowAfterTheGap() throws {
        let db = try chain()
        let rows = try ids(db)
        try tamper(db, "DELETE FROM audit_logs WHERE id = \(rows[3])")
        let result = try AuditLog.verify(on: db)
        let broken = try #require(result.firstBroken)
        #expect(broken.id == rows[4])
        #expect(broken.problem.contains("deleted"), "\(broken)")
        #expect(result.rowsChecked == 3, "rows good before the broken one")
    }

    @Test func aDeletedFirstRowIsCaught() throws {
        let db = try chain()
        let rows = try ids(db)
        try tamper(db, "DELETE FROM audit_logs WHERE id = \(rows[0])")
        let broken = try #require(try AuditLog.verify(on: db).firstBroken)
        #expect(broken.id == rows[1])
        #expect(broken.problem.contains("does not start the chain"))
    }

    @Test func swappedRowsAreCaught() throws {
        let db = try chain()
        let rows = try ids(db)
        let (a, b) = (rows[2], rows[5])
        // Each row keeps its content and hash but takes the other's place in id order.
        try tamper(db, "UPDATE audit_logs SET id = -1 WHERE id = \(a)")
        try tamper(db, "UPDATE audit_logs SET id = \(a) WHERE id = \(b)")
        try tamper(db, "UPDATE audit_logs SET id = \(b) WHERE id = -1")
        let broken = try #require(try AuditLog.verify(on: db).firstBroken)
        #expect(broken.id == a)
    }

    @Test func aRowRewrittenWithAFreshHashBreaksTheLinkOfTheNextRow() throws {
        let db = try chain()
        let rows = try ids(db)
        // A forger who recomputes the rewritten row's hash still has to rewrite every row after it.
        let stored = try db.query(
            """
            SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), action, project,
                environment, resource_type, resource_key, commit_sha, branch, message, before::text, after::text,
                prev_hash
            FROM audit_logs WHERE id = $1::bigint
            """, [String(rows[2])])[0]
        let forged = AuditRecord(
            actor: "Mallory", action: stored[1]!, project: stored[2], environment: stored[3],
            resourceType: stored[4]!, resourceKey: stored[5]!, commit: stored[6], branch: stored[7],
            message: stored[8], before: try stored[9].map { try JSONParser.parse($0) },
            after: try stored[10].map { try JSONParser.parse($0) })
        let hash = AuditLog.hash(
            ChainedAuditRow(id: rows[2], occurredAt: stored[0]!, record: forged, prevHash: stored[11]!))
        try tamper(db, "UPDATE audit_logs SET actor = 'Mallory', hash = '\(hash)' WHERE id = \(rows[2])")

        let broken = try #require(try AuditLog.verify(on: db).firstBroken)
        #expect(broken.id == rows[3], "the forged row itself verifies; the next one no longer links to it")
        #expect(broken.problem.contains("prev_hash does not match row \(rows[2])"), "\(broken)")
    }

    @Test func theNewestRowsDeletedAreNamedAgainstTheAnchoredHead() throws {
        let db = try chain()
        let rows = try ids(db)
        let head = try #require(try AuditLog.head(on: db))
        #expect(head.id == rows.last)
        #expect(try AuditLog.verify(on: db, anchor: head).anchor == head, "an intact log reaches its anchor")

        try tamper(db, "DELETE FROM audit_logs WHERE id >= \(rows[6])")
        #expect(try AuditLog.verify(on: db).isValid, "without the anchor, a shortened chain still holds")
        let result = try AuditLog.verify(on: db, anchor: head, source: "refs/flagstaff/audit-head in repo")
        let broken = try #require(result.firstBroken)
        #expect(broken.id == head.id)
        #expect(broken.action == "missing")
        #expect(broken.problem.contains("deleted from the end"), "\(broken)")
        #expect(broken.problem.contains("the log ends at row \(rows[5])"), "\(broken)")
        #expect(broken.problem.contains("refs/flagstaff/audit-head in repo names row \(head.id)"), "\(broken)")
        #expect(result.rowsChecked == 6)
    }

    @Test func aLogShortenedAndThenAppendedToIsCaughtAtTheAnchoredRow() throws {
        let db = try chain()
        let rows = try ids(db)
        let head = try #require(try AuditLog.head(on: db))
        try tamper(db, "DELETE FROM audit_logs WHERE id >= \(rows[6])")
        // New rows chain onto the shorter end, so the chain alone holds again.
        try db.transaction { () throws(StoreError) in
            try AuditLog.append([AuditRecord(actor: "a", action: "test.later", resourceType: "t", resourceKey: "k")], on: db)
        }
        #expect(try AuditLog.verify(on: db).isValid)
        let broken = try #require(try AuditLog.verify(on: db, anchor: head).firstBroken)
        #expect(broken.id == head.id)
        #expect(broken.problem.contains("not in the log although later rows are"), "\(broken)")
    }

    @Test func aHeadRowWhoseHashDiffersFromTheAnchorIsNamed() throws {
        let db = try chain()
        let head = try #require(try AuditLog.head(on: db))
        let forged = AuditHead(id: head.id, hash: String(repeating: "a", count: 64))
        let broken = try #require(try AuditLog.verify(on: db, anchor: forged).firstBroken)
        #expect(broken.id == head.id)
        #expect(broken.problem.contains("hash is not the one"), "\(broken)")
    }

    @Test func anAnchorOfAnotherLogIsNamedAtTheFirstRow() throws {
        let db = try chain()
        let head = try #require(try AuditLog.head(on: db))
        #expect(head.log == (try db.scalar("SELECT hash FROM audit_logs ORDER BY id LIMIT 1")))
        var elsewhere = head
        elsewhere.log = String(repeating: "b", count: 64)
        let broken = try #require(try AuditLog.verify(on: db, anchor: elsewhere).firstBroken)
        #expect(broken.id == (try ids(db)).first)
        #expect(broken.problem.contains("belongs to another audit log"), "\(broken)")
    }

    @Test func theAnchorEncodingRoundTripsAndRefusesAnythingElse() {
        let head = AuditHead(id: 42, hash: String(repeating: "0123456789abcdef", count: 4))
        #expect(String(decoding: head.encoded, as: UTF8.self) == #"{"hash":"\#(head.hash)","id":42}"#)
        #expect(AuditHead(decoding: head.encoded) == head)
        let withLog = AuditHead(id: 42, hash: head.hash, log: String(repeating: "f", count: 64))
        #expect(AuditHead(decoding: withLog.encoded) == withLog)
        #expect(AuditHead(decoding: Array(#"{"hash":"\#(head.hash)","id":1,"log":"short"}"#.utf8)) == nil)
        for bad in [#"{"id":1}"#, #"{"id":"1","hash":"\#(head.hash)"}"#, #"{"id":1,"hash":"XYZ"}"#, "", "[]"] {
            #expect(AuditHead(decoding: Array(bad.utf8)) == nil, "\(bad)")
        }
    }

    @Test func theTableRefusesUpdatesAndDeletesWithoutTheSessionSetting() throws {
        let db = try chain()
        for sql in ["UPDATE audit_logs SET actor = 'x'", "DELETE FROM audit_logs", "TRUNCATE audit_logs"] {
            do {
                try db.query(sql)
                Issue.record("\(sql) was allowed")
            } catch {
                #expect(error.message.contains("append-only"), "\(error)")
            }
        }
        #expect(try db.count("audit_logs") == 8)
        #expect(try AuditLog.verify(on: db).isValid)
    }

    @Test func valuesThatJSONBRewritesStillVerify() throws {
        let db = try TestDatabase.migrated()
        let awkward: Value = .object([
            "big float": .double(1e16), "small": .double(0.000_012_5), "third": .double(1.0 / 3.0),
            "int": .int(Int64.max), "negative zero": .double(-0.0),
            "text": "tab\t \"quote\" \\ ünïcødé 🚩 \u{7f}",
            "a much longer key than the others": .array([.null, .bool(false), .object([:]), .array([])]),
            "b": .object(["zz": 1, "a": 2, "mm": .object(["x": "y"])]),
        ])
        try db.transaction { () throws(StoreError) in
            try AuditLog.append(
                [
                    AuditRecord(actor: "Ünïcødé <u@acme.example>", action: "test.awkward", resourceType: "value",
                                resourceKey: "k", message: "line one\nline two", before: .null, after: awkward),
                    AuditRecord(actor: "a", action: "test.minimal", resourceType: "value", resourceKey: "k2"),
                ], on: db)
        }
        let result = try AuditLog.verify(on: db)
        #expect(result.isValid, "\(String(describing: result.firstBroken))")
        #expect(result.rowsChecked == 2)
        #expect(
            try db.query("SELECT before::text, after IS NULL FROM audit_logs ORDER BY id")
                == [["null", "f"], [nil, "t"]])
        // What makes the round trip matter: jsonb spells this float as an integer.
        #expect(
            try db.scalar("SELECT after ->> 'big float' FROM audit_logs ORDER BY id LIMIT 1") == "10000000000000000")
    }

    @Test func appendOutsideATransactionIsRefused() throws {
        let db = try TestDatabase.migrated()
        #expect(throws: StoreError.self) {
            try AuditLog.append([AuditRecord(actor: "a", action: "x", resourceType: "t", resourceKey: "k")], on: db)
        }
        #expect(try db.count("audit_logs") == 0)
    }

    @Test func concurrentAppendersFromSeveralConnectionsKeepOneChain() async throws {
        let db = try TestDatabase.migrated()
        let url = try #require(try db.scalar("SELECT current_database()"))
        let base = try #require(TestDatabase.adminURL)
        let databaseURL = String(base[..<base.lastIndex(of: "/")!]) + "/" + url
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<3 {
                group.addTask {
                    let connection = try PostgresConnection(url: databaseURL)
                    for n in 0..<15 {
                        try connection.transaction { () throws(StoreError) in
                            try AuditLog.append(
                                ["test.a", "test.b"].map {
                                    AuditRecord(actor: "w\(worker)", action: $0, resourceType: "n", resourceKey: "\(n)")
                                }, on: connection)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let result = try AuditLog.verify(on: db)
        #expect(result.isValid, "\(String(describing: result.firstBroken))")
        #expect(result.rowsChecked == 90)
    }
}
