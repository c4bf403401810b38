import FlagBus
import FlagModel
import FlagStore
import Foundation
import Testing

@Suite("The daemon against real PostgreSQL, Redis and Git", .serialized)
struct SyncTests {
    @Test func aCommitFlowsToPostgresAuditRedisAndTheServedSnapshot() async throws {
        let repo = try FlagRepository()
        let database = try Services.database()
        let redisURL = try Services.redisURL()
        let prefix = Services.prefix()
        let daemon = try DaemonProcess.daemon(repo: repo, postgres: database, redis: redisURL, prefix: prefix)
        try await daemon.waitUntilListening()
        try await eventually("revision 1 served") { try servedRevision(daemon.port) == 1 }
        #expect(try count(database, "SELECT count(*) FROM feature_flags") == 2)
        #expect(try count(database, "SELECT count(*) FROM flag_configurations") == 4, "2 flags × 2 environments")
        #expect(try count(database, "SELECT count(*) FROM segments") == 2, "one segment per environment")
        let redis = try RedisConnection(url: redisURL)
        try await eventually("Redis holds revision 1") {
            try redis.get("\(prefix):shop:production:revision") == Array("1".utf8)
        }

        let subscription = try RedisSubscription(url: redisURL, channels: ["\(prefix):shop:production"])
        try repo.setFlag("checkout", rollout: 60)
        try repo.commit("checkout to 60%")
        let tip = try repo.tip()
        var message: RedisMessage?
        let deadline = Date().addingTimeInterval(20)
        while message == nil, Date() < deadline { message = try subscription.next(wait: .milliseconds(500)) }
        let payload = try #require(message).payload
        let published = try JSONParser.parse(bytes: payload)
        guard case .object(let fields) = published else { throw TestFailure("payload is not an object") }
        #expect(fields["revision"] == .int(2))
        #expect(fields["commit"] == .string(tip))
        #expect(fields["changed"] == .array([.string("checkout")]))
        #expect(fields["removed"] == .array([]))
        try await eventually("revision 2 served") { try servedRevision(daemon.port) == 2 }

        let audit = try PostgresConnection(url: database).query(
            "SELECT actor, action, resource_key, commit_sha, branch, message FROM audit_logs "
                + "WHERE environment = 'production' AND commit_sha = $1", [tip])
        #expect(audit.count == 1, "one audit row for the one changed flag: \(audit)")
        #expect(audit.first?[0]?.contains("Ana Silva") == true)
        #expect(audit.first?[1] == "flag.updated")
        #expect(audit.first?[2] == "checkout")
        #expect(audit.first?[4] == "main")
        #expect(audit.first?[5]?.contains("checkout to 60%") == true)
        let sync = daemon.lines.first { $0["message"] == .string("applied") && $0["revision"] == .string("2") }
        #expect(sync?["commit"] != nil, "sync lines name the commit and revision")

        // Staging follows its own branch and was not touched.
        #expect(try servedRevision(daemon.port, environment: "staging") == 1)
        let verify = try runCLI(["audit", "verify", "--postgres", database])
        #expect(verify.status == 0, "\(verify.output)")
        daemon.terminate()
    }

    @Test func aBadCommitIsRejectedOnceAndTheLastGoodSnapshotKeepsServing() async throws {
        let repo = try FlagRepository()
        let database = try Services.database()
        let daemon = try DaemonProcess.daemon(repo: repo, postgres: database)
        try await daemon.waitUntilListening()
        try await eventually("revision 1 served") { try servedRevision(daemon.port) == 1 }

        try repo.write(["shop/flags/checkout.yaml": "rules:\n  - when: [ { segment: staf } ]\n    serve: on\ndefault: off\n"])
        try repo.commit("typo in a segment name")
        let bad = try repo.tip()
        try await eventually("the rejection is recorded") {
            try count(database, "SELECT count(*) FROM audit_logs WHERE action = 'sync.rejected'") == 1
        }
        // Several more polls happen; the rejection stays recorded once.
        try await Task.sleep(for: .seconds(1.5))
        #expect(try count(database, "SELECT count(*) FROM audit_logs WHERE action = 'sync.rejected'") == 1)
        let after = try scalar(database, "SELECT after::text FROM audit_logs WHERE action = 'sync.rejected'")
        #expect(after?.contains("staf") == true, "the diagnostics are kept: \(after ?? "")")
        #expect(try servedRevision(daemon.port) == 1)
        let status = try daemon.http("GET", "/api/v1/status")
        #expect(status.body.contains(String(bad.prefix(12))), "status names the rejected commit")
        let metrics = try daemon.http("GET", "/metrics")
        #expect(metrics.body.contains(#"flagstaff_sync_rejected_commits_total{project="shop",environment="production"} 1"#))

        try repo.setFlag("checkout", rollout: 30)
        try repo.commit("fixed")
        try await eventually("the next good commit applies") { try servedRevision(daemon.port) == 2 }
        daemon.terminate()
    }

    @Test func aForcePushIsAppliedAndAudited() async throws {
        let repo = try FlagRepository()
        let database = try Services.database()
        let daemon = try DaemonProcess.daemon(repo: repo, postgres: database)
        try await daemon.waitUntilListening()
        try repo.setFlag("banner", rollout: 40)
        try repo.commit("banner 40")
        try await eventually("revision 2") { try servedRevision(daemon.port) == 2 }
        try repo.git("reset", "-q", "--hard", "HEAD~1")
        try repo.setFlag("banner", rollout: 70)
        try repo.commit("banner 70 instead")
        try await eventually("the force-pushed tip is served") { try servedRevision(daemon.port) == 3 }
        #expect(!daemon.logged("branch was force-pushed: the new tip does not descend from the applied one").isEmpty)
        let rows = try count(database, "SELECT count(*) FROM audit_logs WHERE resource_key = 'banner' AND environment = 'production'")
        #expect(rows == 3, "created, 40, 70")
        daemon.terminate()
    }

    @Test func reapplyingTheSameContentIsANoOp() async throws {
        let repo = try FlagRepository()
        let database = try Services.database()
        let daemon = try DaemonProcess.daemon(repo: repo, postgres: database)
        try await daemon.waitUntilListening()
        try await eventually("revision 1") { try servedRevision(daemon.port) == 1 }
        // Reformatting only: same snapshot version.
        let file = repo.url.appendingPathComponent("shop/flags/banner.yaml")
        let text = try String(contentsOf: file, encoding: .utf8)
        try ("# a comment changes nothing\n" + text).write(to: file, atomically: true, encoding: .utf8)
        try repo.commit("comment only")
        try await Task.sleep(for: .seconds(1.5))
        #expect(try servedRevision(daemon.port) == 1)
        #expect(try count(database, "SELECT count(*) FROM snapshots") == 2, "one per environment, no new revision")
        daemon.terminate()
    }
}

/// Runs the flagstaff binary to completion.
func runCLI(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try Spawn.run([Paths.binary] + arguments)
}
