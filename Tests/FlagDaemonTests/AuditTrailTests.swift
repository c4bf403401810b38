import FlagModel
import FlagStore
import Foundation
import Testing

/// The audit trail against its two attackers: a daemon role that may only append, and
/// someone who deletes the newest rows, caught by the head anchored in the repository.
@Suite("The audit trail's guards, with a live daemon", .serialized)
struct AuditTrailTests {
    func anchoredHead(_ repo: FlagRepository) throws -> AuditHead? {
        let text = try? repo.git("cat-file", "blob", "refs/flagstaff/audit-head")
        return text.flatMap { AuditHead(decoding: Array($0.utf8)) }
    }

    @Test func theDaemonAnchorsTheHeadAndVerifyNamesRowsDeletedFromTheEnd() async throws {
        let repo = try FlagRepository()
        let database = try Services.database()
        var daemon = try DaemonProcess.daemon(repo: repo, postgres: database)
        try await daemon.waitUntilListening()
        try await eventually("revision 1 served") { try servedRevision(daemon.port) == 1 }
        try repo.setFlag("checkout", rollout: 55)
        try repo.commit("checkout to 55%")
        try await eventually("revision 2 served") { try servedRevision(daemon.port) == 2 }
        let newest = try #require(try scalar(database, "SELECT max(id) FROM audit_logs").flatMap { Int64($0) })
        try await eventually("the head is anchored in the repository") { try anchoredHead(repo)?.id == newest }
        let head = try #require(try anchoredHead(repo))
        #expect(head.hash == (try scalar(database, "SELECT hash FROM audit_logs WHERE id = $1::bigint", [String(newest)])))
        #expect(
            daemon.logged("audit head").contains { $0["id"] == .string(String(newest)) && $0["hash"] == .string(head.hash) },
            "the log carries the head too")

        let good = try runCLI(["audit", "verify", "--postgres", database, "--repo", repo.url.path])
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output.contains("reaching the anchored head (row \(newest)"), "\(good.output)")
        daemon.terminate()

        // Someone with the owner's rights deletes the newest row; the shorter chain holds by itself.
        let owner = try PostgresConnection(url: database)
        try owner.transaction { () throws(StoreError) in
            try owner.query("SET LOCAL flagstaff.allow_audit_tamper = on")
            try owner.query("DELETE FROM audit_logs WHERE id = $1::bigint", [String(newest)])
        }
        let bad = try runCLI(["audit", "verify", "--postgres", database, "--repo", repo.url.path])
        #expect(bad.status == 1)
        #expect(bad.output.contains("audit row \(newest) (missing"), "\(bad.output)")
        #expect(bad.output.contains("deleted from the end"), "\(bad.output)")
        let fromLog = try runCLI(["audit", "verify", "--postgres", database, "--head", "\(head.id):\(head.hash)"])
        #expect(fromLog.status == 1, "the head from the log catches it too: \(fromLog.output)")

        // A daemon started on the shortened log does not re-anchor at its end, even after new rows.
        daemon = try DaemonProcess.daemon(repo: repo, postgres: database)
        try await daemon.waitUntilListening()
        try repo.setFlag("banner", rollout: 20)
        try repo.commit("banner to 20%")
        try await eventually("revision 3 served") { try servedRevision(daemon.port) == 3 }
        try await eventually("the daemon reports the tampering") { !daemon.logged("audit trail tampered with: the anchor stays where it is; run flagstaff audit verify").isEmpty }
        #expect(try anchoredHead(repo) == head, "the anchor did not move")
        let still = try runCLI(["audit", "verify", "--postgres", database, "--repo", repo.url.path])
        #expect(still.status == 1, "\(still.output)")
        #expect(still.output.contains("audit row \(newest) (missing"), "\(still.output)")
        daemon.terminate()
    }

    @Test func aNewDatabaseForTheSameRepositoryIsAnchoredAfreshAndSaysSo() async throws {
        let repo = try FlagRepository()
        let first = try Services.database()
        var daemon = try DaemonProcess.daemon(repo: repo, postgres: first)
        try await daemon.waitUntilListening()
        try await eventually("the first database's head is anchored") { try anchoredHead(repo) != nil }
        let old = try #require(try anchoredHead(repo))
        daemon.terminate()

        // The demo does this on every start: a new throwaway PostgreSQL, the same repository.
        let second = try Services.database()
        daemon = try DaemonProcess.daemon(repo: repo, postgres: second)
        try await daemon.waitUntilListening()
        try await eventually("the new database's head is anchored") {
            try anchoredHead(repo)?.log == (try scalar(second, "SELECT hash FROM audit_logs ORDER BY id LIMIT 1"))
        }
        #expect(try anchoredHead(repo) != old)
        #expect(daemon.logged("audit trail tampered with: the anchor stays where it is; run flagstaff audit verify").isEmpty)
        #expect(daemon.lines.contains { ($0["message"].flatMap { if case .string(let m) = $0 { m } else { nil } } ?? "")
            .hasPrefix("the audit anchor belongs to another audit log") })
        let verify = try runCLI(["audit", "verify", "--postgres", second, "--repo", repo.url.path])
        #expect(verify.status == 0, "\(verify.output)")
        let stale = try runCLI(["audit", "verify", "--postgres", first, "--repo", repo.url.path])
        #expect(stale.status == 1 && stale.output.contains("belongs to another audit log"), "\(stale.output)")
        daemon.terminate()
    }

    @Test func aDaemonWithTheWriterRoleSyncsAfterTheOwnerMigrated() async throws {
        let repo = try FlagRepository()
        let database = try Services.database()
        let migrate = try runCLI(["migrate", "--postgres", database])
        #expect(migrate.status == 0, "\(migrate.output)")
        let role = "daemon_" + UUID().uuidString.prefix(8).lowercased()
        try PostgresConnection(url: database).query("CREATE ROLE \(role) LOGIN IN ROLE flagstaff_writer")
        let scheme = try #require(database.range(of: "://"))
        let at = try #require(database[scheme.upperBound...].firstIndex(of: "@"))
        let daemonURL = String(database[..<scheme.upperBound]) + role + String(database[at...])

        let daemon = try DaemonProcess.daemon(repo: repo, postgres: daemonURL)
        try await daemon.waitUntilListening()
        try await eventually("revision 1 served") { try servedRevision(daemon.port) == 1 }
        try repo.setFlag("checkout", rollout: 35)
        try repo.commit("checkout to 35%")
        try await eventually("revision 2 served") { try servedRevision(daemon.port) == 2 }
        #expect(try count(database, "SELECT count(*) FROM audit_logs WHERE action = 'flag.updated'") == 1)
        #expect(try scalar(database, "SELECT DISTINCT actor FROM audit_logs WHERE action = 'flag.updated'")?.contains("Ana Silva") == true)
        let verify = try runCLI(["audit", "verify", "--postgres", daemonURL, "--repo", repo.url.path])
        #expect(verify.status == 0, "\(verify.output)")
        daemon.terminate()
    }

    @Test func aRejectedCommitNamesOnlyTheProjectsWhoseFilesAreBroken() async throws {
        let repo = try FlagRepository()
        try repo.write([
            "flagstaff.yaml": """
            version: 1
            organization: acme
            projects: { shop: {}, blog: {} }
            environments:
              production: { branch: main, production: true }
              staging: { branch: staging }
            """,
            "blog/flags/comments.yaml": "default: on\n",
        ])
        try repo.commit("a second project")
        try repo.git("branch", "-f", "staging", "main")
        let database = try Services.database()
        let daemon = try DaemonProcess.daemon(repo: repo, postgres: database)
        try await daemon.waitUntilListening()
        try await eventually("both projects served") {
            try daemon.http("GET", "/api/v1/status").body.components(separatedBy: "\"revision\":1").count == 5
        }

        try repo.write(["blog/flags/comments.yaml": "rules:\n  - when: [ { segment: nobody } ]\n    serve: on\ndefault: on\n"])
        try repo.commit("a typo in blog")
        let bad = String(try repo.tip().prefix(12))
        try await eventually("the rejection is recorded") {
            try count(database, "SELECT count(*) FROM audit_logs WHERE action = 'sync.rejected'") == 1
        }
        #expect(
            try scalar(database, "SELECT project || '/' || environment FROM audit_logs WHERE action = 'sync.rejected'")
                == "blog/production")
        let status = try JSONParser.parse(try daemon.http("GET", "/api/v1/status").body)
        guard case .object(let body) = status, case .array(let environments)? = body["environments"] else {
            throw TestFailure("status has no environments")
        }
        func entry(_ project: String) -> [String: Value]? {
            for case .object(let e) in environments
            where e["project"] == .string(project) && e["environment"] == .string("production") { return e }
            return nil
        }
        guard case .string(let blogError)? = entry("blog")?["lastError"],
            case .string(let shopError)? = entry("shop")?["lastError"]
        else { throw TestFailure("no lastError in \(environments)") }
        #expect(blogError.contains("rejected") && blogError.contains(bad), "\(blogError)")
        #expect(entry("blog")?["rejectedCommits"] == .int(1))
        #expect(shopError.contains("not applied") && shopError.contains("'blog'"), "\(shopError)")
        #expect(entry("shop")?["rejectedCommits"] == .int(0))
        let metrics = try daemon.http("GET", "/metrics").body
        #expect(metrics.contains(#"flagstaff_sync_rejected_commits_total{project="blog",environment="production"} 1"#))
        #expect(metrics.contains(#"flagstaff_sync_rejected_commits_total{project="shop",environment="production"} 0"#))
        daemon.terminate()
    }
}
