import FlagModel
import FlagStore
import Foundation
import Testing

@Suite("Applying snapshots")
struct SyncStoreApplyTests {
    @Test func theFirstApplyWritesRevisionOneStateAuditRowsAndTheOutboxMessage() throws {
        let db = try TestDatabase.migrated()
        let store = SyncStore(connection: db)
        let applied = try #require(
            try store.apply(
                Fixtures.first, commit: "c1", branch: "main", author: "Ada <ada@acme.example>",
                message: "Add checkout", redisPrefix: "flagstaff"))
        #expect(applied.revision == 1)
        #expect(applied.changed == ["banner-text", "beta-users", "new-checkout", "staff"])
        #expect(applied.removed == [])
        #expect(applied.auditRows == 4)

        let flag = try db.query(
            "SELECT name, description, type, owner, tags::text, expires::text, archived_at FROM feature_flags "
                + "WHERE key = 'new-checkout'")
        #expect(
            flag == [
                [
                    "New checkout", "The one-page checkout", "boolean", "team-payments", "{checkout,web}", "2026-12-31",
                    nil,
                ]
            ])
        let configurations = try db.query(
            """
            SELECT f.key, c.enabled, c.configuration::text FROM flag_configurations c
            JOIN feature_flags f ON f.id = c.flag_id ORDER BY f.key
            """)
        #expect(configurations.map { $0[0] } == ["banner-text", "new-checkout"])
        #expect(configurations.map { $0[1] } == ["t", "t"])
        #expect(try canonical(configurations[1][2]) == CanonicalJSON.encode(Fixtures.checkout.json))
        let segments = try db.query("SELECT key, name, definition::text FROM segments ORDER BY key")
        #expect(segments.map { $0[0] } == ["beta-users", "staff"])
        #expect(segments[0][1] == "Beta users")
        #expect(try canonical(segments[1][2]) == CanonicalJSON.encode(Fixtures.staff.json))
        #expect(try db.query("SELECT branch, production FROM environments") == [["main", "t"]])

        let audit = try db.query(
            """
            SELECT action, actor, project, environment, resource_type, resource_key, commit_sha, branch, message,
                before::text, after::text
            FROM audit_logs ORDER BY id
            """)
        #expect(audit.map { $0[0] } == ["flag.created", "flag.created", "segment.created", "segment.created"])
        #expect(audit.map { $0[5] } == ["banner-text", "new-checkout", "beta-users", "staff"])
        for row in audit {
            #expect(Array(row[1...4]) == ["Ada <ada@acme.example>", "shop", "production", row[4]])
            #expect(Array(row[6...9]) == ["c1", "main", "Add checkout", nil])
        }
        #expect(try canonical(audit[1][10]) == CanonicalJSON.encode(Fixtures.checkout.json))

        let outbox = try store.pendingOutbox(limit: 10)
        #expect(outbox.count == 1)
        #expect(outbox.first?.id == applied.outboxID)
        #expect(outbox.first?.channel == "flagstaff:shop:production")
        #expect(
            outbox.first?.payload
                == #"{"changed":["banner-text","beta-users","new-checkout","staff"],"commit":"c1","removed":[],"#
                + #""revision":1,"version":"sha256:one"}"#)
        var stored = Fixtures.first
        stored.commit = "c1"
        stored.branch = "main"
        #expect(outbox.first?.snapshotContent == CanonicalJSON.encode(stored.json))

        let status = try store.status()
        #expect(status.count == 1)
        #expect(status.first?.commit == "c1")
        #expect(status.first?.revision == 1)
        #expect(status.first?.syncedAt != nil)
        #expect(status.first?.lastError == nil)
    }

    @Test func theSameVersionAgainWritesNothingButTheStatus() throws {
        let db = try TestDatabase.migrated()
        let store = SyncStore(connection: db)
        try store.apply(Fixtures.first, commit: "c1")
        let counts = try ["snapshots", "audit_logs", "outbox", "feature_flags", "segments"].map(db.count)

        // A commit that only reformatted YAML compiles to the same version.
        #expect(try store.apply(Fixtures.first, commit: "c2") == nil)
        #expect(try ["snapshots", "audit_logs", "outbox", "feature_flags", "segments"].map(db.count) == counts)
        #expect(try store.status().first?.commit == "c2")
        #expect(try store.status().first?.revision == 1)
    }

    @Test func aChangedFlagAndARemovedSegmentMakeRevisionTwoWithExactlyThoseAuditRows() throws {
        let db = try TestDatabase.migrated()
        let store = SyncStore(connection: db)
        try store.apply(Fixtures.first, commit: "c1")
        let firstAuditID = Int64(try db.scalar("SELECT max(id) FROM audit_logs") ?? "") ?? 0

        var checkout = Fixtures.checkout
        checkout.enabled = false
        let second = Fixtures.snapshot(
            flags: [checkout, Fixtures.banner], segments: [Fixtures.betaUsers], version: "sha256:two")
        let applied = try #require(
            try store.apply(
                second, commit: "c2", branch: "main", author: "Grace <grace@acme.example>", message: "Turn off",
                redisPrefix: "ff"))
        #expect(applied.revision == 2)
        #expect(applied.changed == ["new-checkout"])
        #expect(applied.removed == ["staff"])
        #expect(applied.auditRows == 2)

        let audit = try db.query(
            """
            SELECT action, resource_key, actor, commit_sha, message, before::text, after::text
            FROM audit_logs WHERE id > $1::bigint ORDER BY id
            """, [String(firstAuditID)])
        #expect(audit.count == 2)
        #expect(
            Array(audit[0][0...4]) == ["flag.updated", "new-checkout", "Grace <grace@acme.example>", "c2", "Turn off"])
        #expect(try canonical(audit[0][5]) == CanonicalJSON.encode(Fixtures.checkout.json))
        #expect(try canonical(audit[0][6]) == CanonicalJSON.encode(checkout.json))
        #expect(Array(audit[1][0...1]) == ["segment.deleted", "staff"])
        #expect(try canonical(audit[1][5]) == CanonicalJSON.encode(Fixtures.staff.json))
        #expect(audit[1][6] == nil)

        #expect(try db.query("SELECT key FROM segments") == [["beta-users"]])
        #expect(
            try db.scalar(
                "SELECT c.enabled FROM flag_configurations c JOIN feature_flags f ON f.id = c.flag_id "
                    + "WHERE f.key = 'new-checkout'") == "f")
        let outbox = try store.pendingOutbox(limit: 10)
        #expect(outbox.map(\.revision) == [1, 2])
        #expect(outbox.last?.channel == "ff:shop:production")
        #expect(
            outbox.last?.payload
                == #"{"changed":["new-checkout"],"commit":"c2","removed":["staff"],"revision":2,"#
                + #""version":"sha256:two"}"#)
        #expect(
            try db.query("SELECT revision, commit_sha FROM snapshots ORDER BY revision") == [["1", "c1"], ["2", "c2"]])
    }

    @Test func candidatesNarrowTheDiffToTheKeysTheyNameAndGiveTheSameRows() throws {
        var checkout = Fixtures.checkout
        checkout.enabled = false
        let second = Fixtures.snapshot(
            flags: [checkout, Fixtures.banner], segments: [Fixtures.betaUsers], version: "sha256:two")
        // The candidates name an unchanged flag too (a superset is allowed) and the removed segment.
        let candidates = ChangeCandidates(
            basedOn: "sha256:one", flags: ["new-checkout", "banner-text"], segments: ["staff"])
        // Candidates based on another version than the stored one are ignored: the full diff runs.
        let stale = ChangeCandidates(basedOn: "sha256:zero", flags: [], segments: [])
        var audits: [[[String?]]] = []
        for given in [candidates, stale] {
            let db = try TestDatabase.migrated()
            let store = SyncStore(connection: db)
            try store.apply(Fixtures.first, commit: "c1")
            let applied = try #require(
                try store.apply(
                    second, commit: "c2", branch: "main", author: "Grace <grace@acme.example>", message: "Turn off",
                    redisPrefix: "ff", candidates: given))
            #expect(applied.changed == ["new-checkout"])
            #expect(applied.removed == ["staff"])
            audits.append(
                try db.query(
                    "SELECT action, resource_key, before::text, after::text FROM audit_logs WHERE commit_sha = 'c2' ORDER BY id"
                ))
        }
        #expect(audits[0].count == 2)
        #expect(audits[0] == audits[1])
        #expect(Array(audits[0][0][0...1]) == ["flag.updated", "new-checkout"])
        #expect(try canonical(audits[0][0][3]) == CanonicalJSON.encode(checkout.json))
        #expect(Array(audits[0][1][0...1]) == ["segment.deleted", "staff"])

        // Only the named keys are read back: candidates that leave a change out (which the
        // daemon never does) hide it, which shows the narrowed diff is the one that ran.
        let db = try TestDatabase.migrated()
        let store = SyncStore(connection: db)
        try store.apply(Fixtures.first, commit: "c1")
        let narrowed = try #require(
            try store.apply(
                second, commit: "c2", branch: "main", author: "A", message: "Turn off", redisPrefix: "ff",
                candidates: ChangeCandidates(basedOn: "sha256:one", flags: ["banner-text"], segments: [])))
        #expect(narrowed.changed.isEmpty && narrowed.removed.isEmpty)
    }

    @Test func aCandidateThatWasAddedIsCreated() throws {
        let db = try TestDatabase.migrated()
        let store = SyncStore(connection: db)
        try store.apply(Fixtures.first, commit: "c1")
        let extra = Flag(key: "extra", name: "Extra")
        let second = Fixtures.snapshot(
            flags: [Fixtures.checkout, Fixtures.banner, extra], segments: [Fixtures.betaUsers, Fixtures.staff],
            version: "sha256:two")
        let applied = try #require(
            try store.apply(
                second, commit: "c2", branch: "main", author: "A", message: "Add", redisPrefix: "ff",
                candidates: ChangeCandidates(basedOn: "sha256:one", flags: ["extra"], segments: [])))
        #expect(applied.changed == ["extra"])
        #expect(try db.query("SELECT action, before::text FROM audit_logs WHERE commit_sha = 'c2'") == [["flag.created", nil]])
    }

    @Test func aRemovedFlagLosesItsConfigurationAndIsArchivedUntilItComesBack() throws {
        let db = try TestDatabase.migrated()
        let store = SyncStore(connection: db)
        try store.apply(Fixtures.first, commit: "c1")
        let withoutBanner = Fixtures.snapshot(
            flags: [Fixtures.checkout], segments: [Fixtures.betaUsers, Fixtures.staff], version: "sha256:two")
        let applied = try #require(try store.apply(withoutBanner, commit: "c2"))
        #expect(applied.changed == [])
        #expect(applied.removed == ["banner-text"])
        #expect(try db.scalar("SELECT action FROM audit_logs ORDER BY id DESC LIMIT 1") == "flag.deleted")
        #expect(try db.count("flag_configurations") == 1)
        #expect(try db.scalar("SELECT archived_at IS NOT NULL FROM feature_flags WHERE key = 'banner-text'") == "t")

        var renamed = Fixtures.banner
        renamed.name = "Banner"
        let back = Fixtures.snapshot(
            flags: [Fixtures.checkout, renamed], segments: [Fixtures.betaUsers, Fixtures.staff], version: "sha256:3")
        #expect(try store.apply(back, commit: "c3")?.changed == ["banner-text"])
        #expect(
            try db.query("SELECT name, archived_at FROM feature_flags WHERE key = 'banner-text'") == [["Banner", nil]])
        #expect(try db.count("flag_configurations") == 2)
        #expect(try db.scalar("SELECT action FROM audit_logs ORDER BY id DESC LIMIT 1") == "flag.created")
    }

    @Test func twoEnvironmentsOfOneProjectKeepTheirOwnSegmentsRevisionsAndConfigurations() throws {
        let db = try TestDatabase.migrated()
        let store = SyncStore(connection: db)
        var stagingBeta = Fixtures.betaUsers
        stagingBeta.include = ["u1", "u2", "tester"]
        var stagingCheckout = Fixtures.checkout
        stagingCheckout.defaultServe = .variant("on")
        let staging = Fixtures.snapshot(
            "staging", flags: [stagingCheckout], segments: [stagingBeta], version: "sha256:staging-1")

        try store.apply(Fixtures.first, commit: "c1")
        let applied = try #require(try store.apply(staging, commit: "s1", branch: "staging"))
        #expect(applied.revision == 1, "revisions count per environment")
        #expect(applied.changed == ["beta-users", "new-checkout"])
        #expect(try store.apply(Fixtures.first, commit: "c1") == nil)

        let segments = try db.query(
            """
            SELECT e.key, s.key, s.definition -> 'include'
            FROM segments s JOIN environments e ON e.id = s.environment_id
            ORDER BY e.key, s.key
            """)
        #expect(
            segments == [
                ["production", "beta-users", #"["u1", "u2"]"#], ["production", "staff", #"[]"#],
                ["staging", "beta-users", #"["u1", "u2", "tester"]"#],
            ])
        #expect(try db.count("feature_flags") == 2, "flags are project-wide")
        #expect(
            try db.query(
                """
                SELECT e.key, c.configuration -> 'default' ->> 'variant' FROM flag_configurations c
                JOIN feature_flags f ON f.id = c.flag_id JOIN environments e ON e.id = c.environment_id
                WHERE f.key = 'new-checkout' ORDER BY e.key
                """) == [["production", "off"], ["staging", "on"]])
        #expect(
            try db.query("SELECT key, branch, production FROM environments ORDER BY key")
                == [["production", "main", "t"], ["staging", "staging", "f"]])
        let status = try store.status()
        #expect(status.map(\.environment) == ["production", "staging"])
        #expect(status.map(\.revision) == [1, 1])
        #expect(status.map(\.branch) == ["main", "staging"])
    }

    @Test func aFailedApplyLeavesNothingBehind() throws {
        let db = try TestDatabase.migrated()
        let store = SyncStore(connection: db)
        try store.apply(Fixtures.first, commit: "c1")
        let tables = ["snapshots", "audit_logs", "outbox", "feature_flags", "flag_configurations", "segments"]
        let counts = try tables.map(db.count)
        // feature_flags.key is VARCHAR(50): this fails in the middle of the transaction.
        let tooLong = Flag(key: String(repeating: "k", count: 51))
        let broken = Fixtures.snapshot(
            flags: [Fixtures.checkout, tooLong], segments: [Fixtures.betaUsers], version: "sha256:broken")
        #expect(throws: StoreError.self) { try store.apply(broken, commit: "c2") }
        #expect(try tables.map(db.count) == counts)
        #expect(try store.status().first?.commit == "c1")
        #expect(try store.apply(Fixtures.first, commit: "c3") == nil, "the connection is usable afterwards")
    }
}
