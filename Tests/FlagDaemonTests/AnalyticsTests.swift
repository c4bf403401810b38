import Crypto
import FlagModel
import FlagStore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Analytics: counts, events and ingest", .serialized)
struct AnalyticsTests {
    /// The sum of every hourly count of `flag`.
    static func counted(_ database: String, _ flag: String) throws -> Int {
        try count(database, "SELECT coalesce(sum(count), 0) FROM evaluation_counts WHERE flag_key = $1", [flag])
    }

    static func evaluate(_ port: Int, flag: String, times: Int, user: String = "u-2") throws {
        for i in 0..<times {
            let response = try curl(
                port: port, "POST", "/ofrep/v1/evaluate/flags/\(flag)",
                body: #"{"context":{"targetingKey":"\#(user)-\#(i)"}}"#)
            #expect(response.status == 200, "\(response.body)")
        }
    }

    static func bulk(_ port: Int, times: Int) throws {
        for i in 0..<times {
            let response = try curl(
                port: port, "POST", "/ofrep/v1/evaluate/flags", body: #"{"context":{"targetingKey":"b-\#(i)"}}"#)
            #expect(response.status == 200, "\(response.body)")
        }
    }

    @Test func evaluationsOnADaemonAndAReplicaAreCountedExactlyOnceThroughARedisRestart() async throws {
        let redisServer = try PrivateRedis()
        defer { redisServer.stop() }
        let repo = try FlagRepository()
        let database = try Services.database()
        let prefix = Services.prefix()
        let daemon = try DaemonProcess.daemon(
            repo: repo, postgres: database, redis: redisServer.url, prefix: prefix, extra: ["--analytics-flush", "1"])
        try await daemon.waitUntilListening()
        try await eventually("revision 1") { try servedRevision(daemon.port) == 1 }
        let replica = try DaemonProcess(
            ["replica", "--redis", redisServer.url, "--redis-prefix", prefix, "--no-auth", "--analytics-flush", "1"])
        try await replica.waitUntilListening()
        try await eventually("the replica serves revision 1") { try servedRevision(replica.port) == 1 }

        // On the daemon: 7 single evaluations of checkout and 3 bulk ones (every flag).
        try Self.evaluate(daemon.port, flag: "checkout", times: 7)
        try Self.bulk(daemon.port, times: 3)
        // On the replica: 4 and 2, handed to the leader through the stream.
        try Self.evaluate(replica.port, flag: "checkout", times: 4)
        try Self.bulk(replica.port, times: 2)
        try await eventually(20, "7 + 3 + 4 + 2 checkout evaluations counted") {
            try Self.counted(database, "checkout") == 16
        }
        try await eventually("3 + 2 banner evaluations counted") { try Self.counted(database, "banner") == 5 }

        // Redis goes away: the replica keeps serving and keeps its counts until Redis is back.
        redisServer.stop()
        try Self.evaluate(replica.port, flag: "checkout", times: 5)
        try await Task.sleep(for: .seconds(3))
        #expect(try Self.counted(database, "checkout") == 16, "nothing reaches PostgreSQL while Redis is down")
        try redisServer.start()
        try await eventually(30, "the 5 kept evaluations arrive once Redis is back") {
            try Self.counted(database, "checkout") == 21
        }
        // And nothing more: every batch counted once.
        try await Task.sleep(for: .seconds(2.5))
        #expect(try Self.counted(database, "checkout") == 21)
        #expect(try Self.counted(database, "banner") == 5)
        #expect(
            try count(database, "SELECT count(DISTINCT version) FROM evaluation_counts WHERE version LIKE 'sha256:%'") == 1,
            "counts carry the served snapshot's version")
        let metrics = try daemon.http("GET", "/metrics").body
        #expect(metrics.contains("flagstaff_analytics_stream_batches_total"))
        #expect(metrics.contains("flagstaff_analytics_flush_seconds"))
        replica.terminate()
        daemon.terminate()
    }

    @Test func countsWaitInMemoryWhilePostgreSQLIsDownAndEvaluationsGoOn() async throws {
        let server = try PrivatePostgres()
        let repo = try FlagRepository()
        let daemon = try DaemonProcess.daemon(repo: repo, postgres: server.url, extra: ["--analytics-flush", "1"])
        try await daemon.waitUntilListening()
        try await eventually("revision 1") { try servedRevision(daemon.port) == 1 }
        try Self.evaluate(daemon.port, flag: "checkout", times: 5)
        try await eventually(20, "5 counted") { try Self.counted(server.url, "checkout") == 5 }

        server.stop()
        try Self.evaluate(daemon.port, flag: "checkout", times: 7)
        try await eventually(20, "the failed flush is seen and the 7 wait") {
            let metrics = try daemon.http("GET", "/metrics").body
            return metrics.contains("flagstaff_analytics_unsent_counts 7")
                && !metrics.contains("flagstaff_analytics_flush_failures_total 0\n")
        }
        try server.start()
        try await eventually(45, "the 7 are written once PostgreSQL is back") { (try? Self.counted(server.url, "checkout")) == 12 }
        try await Task.sleep(for: .seconds(1.5))
        #expect(try Self.counted(server.url, "checkout") == 12, "and only once")
        daemon.terminate()
    }

    @Test func aLeaderKilledAfterWritingAReplicasBatchAndBeforeAcknowledgingItCountsItOnce() async throws {
        let redisServer = try PrivateRedis()
        defer { redisServer.stop() }
        let repo = try FlagRepository()
        let database = try Services.database()
        let prefix = Services.prefix()
        let first = try DaemonProcess.daemon(
            repo: repo, postgres: database, redis: redisServer.url, prefix: prefix, extra: ["--analytics-flush", "1"],
            environment: ["FLAGSTAFF_FAULT_POINT": "analytics.after-write"])
        try await first.waitUntilListening()
        try await eventually("revision 1") { try servedRevision(first.port) == 1 }
        let replica = try DaemonProcess(
            ["replica", "--redis", redisServer.url, "--redis-prefix", prefix, "--no-auth", "--analytics-flush", "1"])
        try await replica.waitUntilListening()
        try await eventually("the replica serves revision 1") { try servedRevision(replica.port) == 1 }
        try Self.evaluate(replica.port, flag: "checkout", times: 9)

        // The leader writes the batch, then dies before XACK.
        #expect(first.waitForExit() == 128 + SIGKILL)
        #expect(try Self.counted(database, "checkout") == 9)
        let pending = try Spawn.run(["redis-cli", "-u", redisServer.url, "XPENDING", "\(prefix):analytics", "flagstaff"])
        #expect(pending.output.hasPrefix("1"), "the batch is still pending: \(pending.output)")

        // The next leader reads the unacknowledged entry again and does not count it twice.
        let second = try DaemonProcess.daemon(
            repo: repo, postgres: database, redis: redisServer.url, prefix: prefix, extra: ["--analytics-flush", "1"])
        try await second.waitUntilListening()
        try await eventually(20, "the next leader acknowledges the entry") {
            let output = try Spawn.run(["redis-cli", "-u", redisServer.url, "XPENDING", "\(prefix):analytics", "flagstaff"])
                .output
            return output.hasPrefix("0")
        }
        #expect(try Self.counted(database, "checkout") == 9)
        replica.terminate()
        second.terminate()
    }

    @Test func eventsKeepOnlyTheAttributesTheManifestListsAndAHashedTargetingKey() async throws {
        let repo = try FlagRepository()
        try repo.write([
            "flagstaff.yaml": """
            version: 1
            organization: acme
            projects: { shop: {} }
            environments:
              production: { branch: main, production: true }
              staging: { branch: staging }
            analytics:
              keep: [plan]
            """,
            "shop/flags/checkout.yaml": """
            events: true
            rules:
              - name: pro
                when: [ { attribute: plan, op: in, values: [pro] } ]
                serve: on
            default: off
            """,
        ])
        try repo.commit("record checkout's evaluations")
        let database = try Services.database()
        // An event partition from 40 days ago, past a retention of 30 days.
        let store = AnalyticsStore(connection: try PostgresConnection(url: database))
        _ = try Migrator.builtIn.migrate(try PostgresConnection(url: database))
        try store.ensurePartition("evaluation_events", day: Int64(Date().timeIntervalSince1970) - 40 * 86_400)
        let daemon = try DaemonProcess.daemon(
            repo: repo, postgres: database, extra: ["--analytics-flush", "1", "--events-retention", "30d"])
        try await daemon.waitUntilListening()
        try await eventually("revision 1 with events on") {
            try daemon.http("GET", "/api/v1/snapshot").body.contains(#""events":1"#)
        }
        let context = #"{"context":{"targetingKey":"user-9","email":"ana@example.com","plan":"pro"}}"#
        for _ in 0..<3 {
            #expect(try daemon.http("POST", "/ofrep/v1/evaluate/flags/checkout", body: context).status == 200)
        }
        #expect(try daemon.http("POST", "/ofrep/v1/evaluate/flags", body: context).status == 200)
        // A conversion, with the email in its context too.
        let now = ISO8601DateFormatter().string(from: Date())
        let tracking = try daemon.http(
            "POST", "/api/v1/events",
            body: #"{"sdk":"test","events":[{"kind":"tracking","name":"bought","time":"\#(now)","context":{"targetingKey":"user-9","email":"ana@example.com","plan":"pro"},"value":42.5,"details":{"currency":"EUR"}}]}"#)
        #expect(tracking.status == 202, "\(tracking.body)")

        try await eventually(20, "four evaluation events written") {
            try count(database, "SELECT count(*) FROM evaluation_events WHERE flag_key = 'checkout'") == 4
        }
        try await eventually("the tracking event written") { try count(database, "SELECT count(*) FROM tracking_events") == 1 }
        let keys = try PostgresConnection(url: database).query(
            "SELECT DISTINCT targeting_key, context::text, variant FROM evaluation_events")
        #expect(keys.count == 1)
        #expect(keys.first?[0] == sha256Hex("user-9"), "the targeting key is stored hashed")
        #expect(keys.first?[1] == #"{"plan": "pro"}"#)
        #expect(keys.first?[2] == "on")
        let trackingRow = try PostgresConnection(url: database).query(
            "SELECT name, targeting_key, value, details::text, context::text FROM tracking_events")
        #expect(trackingRow == [["bought", sha256Hex("user-9"), "42.5", #"{"currency": "EUR"}"#, #"{"plan": "pro"}"#]])
        // The email reaches no table at all.
        let dump = try Spawn.run(["pg_dump", "--data-only", database]).output
        #expect(!dump.contains("ana@example.com"), "an attribute not in analytics.keep is never stored")
        #expect(dump.contains("bought"), "the dump did read the tables")

        // The 40-day-old partition is gone; today's and tomorrow's are there, for both tables.
        let partitions = try store.partitions()
        let today = Self.day(Date())
        let tomorrow = Self.day(Date().addingTimeInterval(86_400))
        #expect(
            partitions == ["evaluation_events_\(today)", "evaluation_events_\(tomorrow)", "tracking_events_\(today)",
                           "tracking_events_\(tomorrow)"].sorted(), "\(partitions)")
        daemon.terminate()
    }

    @Test func aReplicasEventsReachPostgreSQLThroughTheLeader() async throws {
        let redisServer = try PrivateRedis()
        defer { redisServer.stop() }
        let repo = try FlagRepository()
        try repo.write([
            "flagstaff.yaml": """
            version: 1
            organization: acme
            projects: { shop: {} }
            environments:
              production: { branch: main, production: true }
              staging: { branch: staging }
            analytics:
              keep: [plan]
            """,
            "shop/flags/checkout.yaml": "events: true\ndefault: on\n",
        ])
        try repo.commit("record checkout's evaluations")
        let database = try Services.database()
        let prefix = Services.prefix()
        let daemon = try DaemonProcess.daemon(
            repo: repo, postgres: database, redis: redisServer.url, prefix: prefix, extra: ["--analytics-flush", "1"])
        try await daemon.waitUntilListening()
        let replica = try DaemonProcess(
            ["replica", "--redis", redisServer.url, "--redis-prefix", prefix, "--no-auth", "--analytics-flush", "1"])
        try await replica.waitUntilListening()
        try await eventually("the replica serves events: true") {
            try replica.http("GET", "/api/v1/snapshot").body.contains(#""events":1"#)
        }
        let context = #"{"context":{"targetingKey":"user-7","email":"ana@example.com","plan":"pro"}}"#
        for _ in 0..<3 {
            #expect(try replica.http("POST", "/ofrep/v1/evaluate/flags/checkout", body: context).status == 200)
        }
        let tracking = try replica.http(
            "POST", "/api/v1/events",
            body: #"{"events":[{"kind":"tracking","name":"bought","context":{"targetingKey":"user-7","email":"ana@example.com"}}]}"#)
        #expect(tracking.status == 202, "\(tracking.body)")
        try await eventually(20, "the replica's three events are written by the leader") {
            try count(database, "SELECT count(*) FROM evaluation_events WHERE flag_key = 'checkout'") == 3
        }
        try await eventually("and its tracking event") { try count(database, "SELECT count(*) FROM tracking_events") == 1 }
        let rows = try PostgresConnection(url: database).query(
            "SELECT DISTINCT targeting_key, context::text FROM evaluation_events")
        #expect(rows == [[sha256Hex("user-7"), #"{"plan": "pro"}"#]])
        let dump = try Spawn.run(["pg_dump", "--data-only", database]).output
        #expect(!dump.contains("ana@example.com"))
        replica.terminate()
        daemon.terminate()
    }

    @Test func theIngestRoutesAcceptSDKReportsAndNameWhatIsWrong() async throws {
        let repo = try FlagRepository()
        let database = try Services.database()
        let daemon = try DaemonProcess.daemon(repo: repo, postgres: database, extra: ["--analytics-flush", "1"])
        try await daemon.waitUntilListening()
        try await eventually("revision 1") { try servedRevision(daemon.port) == 1 }
        // A window that started an hour and a half ago is counted in that hour.
        let formatter = ISO8601DateFormatter()
        let windowStart = Date().addingTimeInterval(-5_400)
        let hour = Date(timeIntervalSince1970: (windowStart.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
        let accepted = try daemon.http(
            "POST", "/api/v1/metrics",
            body: #"{"sdk":"flagstaff-swift/0.1.0","windowStart":"\#(formatter.string(from: windowStart))","counts":[{"flag":"checkout","variant":"on","reason":"SPLIT","version":"sha256:abc","count":1234},{"flag":"checkout","variant":null,"reason":"ERROR","version":"sha256:abc","count":6}]}"#)
        #expect(accepted.status == 202, "\(accepted.body)")
        #expect(accepted.body.contains(#""accepted":1240"#))
        try await eventually(20, "the reported counts are in PostgreSQL") { try Self.counted(database, "checkout") == 1240 }
        #expect(
            try count(
                database, "SELECT count(*) FROM evaluation_counts WHERE window_start = $1::timestamptz",
                [formatter.string(from: hour)]) == 2,
            "counted in the window's hour")
        // A window from a clock years ahead is counted now, not in a bucket of its own.
        let ahead = try daemon.http(
            "POST", "/api/v1/metrics",
            body: #"{"windowStart":"2999-01-01T00:00:00Z","counts":[{"flag":"retired","variant":"on","reason":"SPLIT","count":3}]}"#)
        #expect(ahead.status == 202)
        try await eventually(20, "the counts from ahead are in PostgreSQL") { try Self.counted(database, "retired") == 3 }
        #expect(try count(database, "SELECT count(*) FROM evaluation_counts WHERE window_start > now() + interval '1 hour'") == 0)

        for (body, field) in [
            (#"{"counts":[{"flag":"checkout","variant":"on","reason":"SPLIT","count":-1}]}"#, "counts[0].count"),
            (#"{"counts":[{"flag":"Not A Key","variant":"on","reason":"SPLIT","count":1}]}"#, "counts[0].flag"),
            (#"{"counts":[{"flag":"checkout","variant":"on","reason":"MAYBE","count":1}]}"#, "counts[0].reason"),
            (#"{"windowStart":"yesterday","counts":[]}"#, "windowStart"),
            (#"{"count":[]}"#, "'counts'"),
        ] {
            let refused = try daemon.http("POST", "/api/v1/metrics", body: body)
            #expect(refused.status == 400, "\(body)")
            #expect(refused.body.contains(field), "\(refused.body) names \(field)")
        }
        let badJSON = try daemon.http("POST", "/api/v1/events", body: "{not json")
        #expect(badJSON.status == 400 && badJSON.body.contains("PARSE_ERROR"))
        let noName = try daemon.http("POST", "/api/v1/events", body: #"{"events":[{"kind":"tracking"}]}"#)
        #expect(noName.status == 400 && noName.body.contains("events[0].name"))
        let huge = try daemon.http(
            "POST", "/api/v1/events", body: #"{"events":[],"pad":""# + String(repeating: "x", count: 70_000) + #""}"#)
        #expect(huge.status == 413)
        #expect(try daemon.http("GET", "/api/v1/metrics").status == 405)

        // The reports, over HTTP.
        let usage = try daemon.http("GET", "/api/v1/analytics/flags/checkout/usage?granularity=day&days=366")
        #expect(usage.status == 200, "\(usage.body)")
        #expect(usage.body.contains("1240"), "the usage report sums what was reported: \(usage.body)")
        let markdown = try daemon.http("GET", "/api/v1/analytics/flags/checkout/usage?days=366&format=markdown")
        #expect(markdown.status == 200 && markdown.body.contains("|"), "\(markdown.body)")
        let stale = try daemon.http("GET", "/api/v1/analytics/stale?days=30&format=json")
        #expect(stale.status == 200, "\(stale.body)")
        #expect(stale.body.contains("banner") && stale.body.contains("never"), "banner was never evaluated: \(stale.body)")
        for (path, status, named) in [
            ("/api/v1/analytics/flags/nope/usage", 404, "nope"),
            ("/api/v1/analytics/flags/checkout/usage?days=0", 400, "days"),
            ("/api/v1/analytics/flags/checkout/usage?granularity=week", 400, "granularity"),
            ("/api/v1/analytics/flags/checkout/experiment", 400, "event"),
            ("/api/v1/analytics/flags/checkout/experiment?event=bought", 409, "split"),
            ("/api/v1/analytics/stale?format=yaml", 400, "format"),
        ] {
            let refused = try daemon.http("GET", path)
            #expect(refused.status == status, "\(path): \(refused.body)")
            #expect(refused.body.contains(named), "\(path) names \(named): \(refused.body)")
        }
        daemon.terminate()

        let off = try DaemonProcess.daemon(repo: repo, postgres: database, extra: ["--analytics-flush", "0"])
        try await off.waitUntilListening()
        let refused = try off.http("POST", "/api/v1/metrics", body: #"{"counts":[]}"#)
        #expect(refused.status == 404, "analytics off: the SDK is told to stop reporting")
        off.terminate()
    }

    static func day(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}

func sha256Hex(_ text: String) -> String {
    SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
}
