import Crypto
import FlagModel
import FlagNotify
import FlagStore
import Foundation
import Logging
import Testing

/// Outbound webhooks (SPEC §18) from a real daemon, PostgreSQL and Git to a real HTTP
/// receiver on loopback.
@Suite("Notifications to webhook receivers", .serialized)
struct NotificationTests {
    static let secret = "s3cret-for-tests"

    static func daemon(
        _ repo: FlagRepository, _ receiver: WebhookReceiver, postgres: String?, extra: [String] = []
    ) throws -> DaemonProcess {
        try DaemonProcess.daemon(
            repo: repo, postgres: postgres,
            extra: ["--notify", receiver.url, "--notify-secret", secret] + extra)
    }

    /// A repository, a database, a receiver, and a daemon that has announced revision 1 to it.
    static func started() async throws -> (FlagRepository, String, WebhookReceiver, DaemonProcess) {
        let repo = try FlagRepository()
        let database = try Services.database()
        let receiver = try WebhookReceiver()
        let daemon = try Self.daemon(repo, receiver, postgres: database)
        try await daemon.waitUntilListening()
        try await eventually("revision 1 is announced") { Self.revisions(Self.messages(receiver, "flags.changed")) == [1] }
        return (repo, database, receiver, daemon)
    }

    /// Production's messages of one event, one per delivery id, in arrival order.
    static func messages(_ receiver: WebhookReceiver, _ event: String, environment: String = "production")
        -> [WebhookReceiver.Request]
    {
        var seen = Set<String>()
        return receiver.requests(event).filter {
            $0.json["environment"] == .string(environment) && seen.insert($0.header("X-Flagstaff-Delivery") ?? "").inserted
        }
    }

    static func revisions(_ requests: [WebhookReceiver.Request]) -> [Int64] {
        requests.compactMap { if case .int(let r)? = $0.json["revision"] { r } else { nil } }
    }

    static func signed(_ request: WebhookReceiver.Request) -> Bool {
        let mac = HMAC<SHA256>.authenticationCode(for: request.body, using: SymmetricKey(data: Array(secret.utf8)))
        return request.header("X-Flagstaff-Signature-256") == "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    static func killed(_ repo: FlagRepository, _ key: String) throws {
        try repo.write([
            "shop/flags/\(key).yaml": """
            enabled: false
            rules:
              - name: everyone
                rollout: 10
                serve: on
            default: off
            """
        ])
    }

    @Test func aReceiverGetsSignedOrderedMessagesForChangesRejectionsKillSwitchesAndScheduleSteps() async throws {
        let (repo, database, receiver, daemon) = try await Self.started()

        try repo.setFlag("checkout", rollout: 60)
        try repo.commit("checkout to 60%")
        try await eventually("revision 2 is announced") { Self.revisions(Self.messages(receiver, "flags.changed")) == [1, 2] }
        let change = try #require(Self.messages(receiver, "flags.changed").last)
        guard case .object(let details)? = change.json["details"], case .string(let text)? = details["text"] else {
            throw TestFailure("no details.text")
        }
        #expect(text.contains("checkout") && text.contains("10% → 60%"), "the change in a reviewer's words: \(text)")
        #expect(change.json["commit"] == .string(try repo.tip()))
        #expect(change.json["author"]?.description.contains("Ana Silva") == true)

        try repo.write(["shop/flags/checkout.yaml": "rules:\n  - when: [ { segment: staf } ]\n    serve: on\ndefault: off\n"])
        try repo.commit("typo in a segment name")
        let bad = try repo.tip()
        try await eventually("the rejection is announced") { !Self.messages(receiver, "sync.rejected").isEmpty }
        let rejection = try #require(Self.messages(receiver, "sync.rejected").first)
        #expect(rejection.json["commit"] == .string(bad))
        guard case .object(let rejected)? = rejection.json["details"], case .array(let diagnostics)? = rejected["diagnostics"]
        else { throw TestFailure("no diagnostics") }
        #expect(diagnostics.first?.description.contains("staf") == true, "\(diagnostics)")

        try Self.killed(repo, "checkout")
        try repo.commit("kill checkout")
        try await eventually("the kill switch is announced") { Self.messages(receiver, "flag.killed").count == 1 }
        let kill = try #require(Self.messages(receiver, "flag.killed").first)
        #expect(kill.json["revision"] == .int(3))
        if case .object(let d)? = kill.json["details"] { #expect(d["flag"] == .string("checkout")) }

        // The schedule timer's entry point, twice, as two daemons noticing one step would.
        let notifier = Notifier(
            configuration: NotifyConfiguration(receivers: [try Receiver.parse(receiver.url)]), postgres: database,
            logger: Logger(label: "test"))
        let at = Date(timeIntervalSince1970: 1_790_000_000)
        #expect(try notifier.scheduleStepReached(
            project: "shop", environment: "production", revision: 3, version: "sha256:x", at: at, flags: ["checkout"]))
        #expect(try !notifier.scheduleStepReached(
            project: "shop", environment: "production", revision: 3, version: "sha256:x", at: at, flags: ["checkout"]))
        try await eventually("the schedule step is announced") { Self.messages(receiver, "schedule.step").count == 1 }
        try await Task.sleep(for: .seconds(1.5))
        #expect(receiver.requests("schedule.step").count == 1, "recorded once, sent once")

        let production = receiver.requests.filter { $0.json["environment"] == .string("production") }
        #expect(
            production.map { "\($0.event ?? "")" } == [
                "flags.changed", "flags.changed", "sync.rejected", "flags.changed", "flag.killed", "schedule.step",
            ], "in the order it happened")
        for request in receiver.requests {
            #expect(Self.signed(request), "every body is signed")
            #expect(request.header("Content-Type") == "application/json")
            #expect(request.header("User-Agent")?.hasPrefix("Flagstaff/") == true)
            #expect(request.json["delivery"] == request.header("X-Flagstaff-Delivery").map(Value.string))
            #expect(request.json["event"] == request.event.map(Value.string))
        }
        #expect(Set(receiver.requests.compactMap { $0.header("X-Flagstaff-Delivery") }).count == receiver.requests.count)

        let status = try daemon.http("GET", "/api/v1/status").body
        let metrics = try daemon.http("GET", "/metrics").body
        #expect(status.contains("\"receiver\":\"http://127.0.0.1:\(receiver.port)#"), "\(status)")
        #expect(metrics.contains("flagstaff_notifications_delivered_total{receiver=\"http://127.0.0.1:\(receiver.port)#"))
        #expect(metrics.contains("flagstaff_notification_delivery_seconds_count"))
        for text in [status, metrics, daemon.logText] {
            #expect(!text.contains("sekrit-path") && !text.contains(Self.secret), "no URL path or secret shows")
        }
        daemon.terminate()
    }

    @Test func aReceiverDownForAWhileGetsEveryMessageInOrderOnceBack() async throws {
        let (repo, database, receiver, daemon) = try await Self.started()

        receiver.stop()
        for (index, rollout) in [20, 30, 40, 50].enumerated() {
            try repo.setFlag("checkout", rollout: rollout)
            try repo.commit("checkout to \(rollout)%")
            try await eventually("revision \(index + 2) served") { try servedRevision(daemon.port) == index + 2 }
        }
        try await Task.sleep(for: .seconds(1))
        try receiver.start()
        try await eventually(30, "every revision arrives") {
            Self.revisions(Self.messages(receiver, "flags.changed")) == [1, 2, 3, 4, 5]
        }
        // A duplicate is allowed only as the same delivery: same id, same bytes.
        var bodies: [String: [UInt8]] = [:]
        for request in receiver.requests {
            let id = try #require(request.header("X-Flagstaff-Delivery"))
            if let earlier = bodies[id] { #expect(earlier == request.body) } else { bodies[id] = request.body }
        }
        let staging = Self.revisions(Self.messages(receiver, "flags.changed", environment: "staging"))
        #expect(staging == [1], "staging was announced once, unaffected")
        #expect(try count(database, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered'") == 6)
        daemon.terminate()
    }

    @Test func aDaemonKilledBeforeItDeliversDeliversAfterItsRestart() async throws {
        let repo = try FlagRepository()
        let database = try Services.database()
        let receiver = try WebhookReceiver()
        receiver.stop()
        var daemon = try Self.daemon(repo, receiver, postgres: database)
        try await daemon.waitUntilListening()
        try await eventually("revision 1 served") { try servedRevision(daemon.port) == 1 }
        try repo.setFlag("checkout", rollout: 70)
        try repo.commit("checkout to 70%")
        try await eventually("revision 2 served") { try servedRevision(daemon.port) == 2 }
        daemon.kill9()
        #expect(receiver.requests.isEmpty)

        try receiver.start()
        daemon = try Self.daemon(repo, receiver, postgres: database)
        try await daemon.waitUntilListening()
        try await eventually("both revisions arrive after the restart") {
            Self.revisions(Self.messages(receiver, "flags.changed")) == [1, 2]
        }
        daemon.terminate()
    }

    @Test func aRefusalIsNotRetriedAndAMessageTooOldIsGivenUpAndRecorded() async throws {
        let repo = try FlagRepository()
        let database = try Services.database()
        let receiver = try WebhookReceiver()
        receiver.mode = .answer(400)
        let daemon = try Self.daemon(repo, receiver, postgres: database, extra: ["--notify-max-age", "3s"])
        try await daemon.waitUntilListening()
        try await eventually("both environments' first revision are refused") {
            try count(database, "SELECT count(*) FROM notification_deliveries WHERE state = 'failed'") == 2
        }
        try await Task.sleep(for: .seconds(1.5))
        #expect(receiver.requests.count == 2, "a 400 is not retried")

        receiver.mode = .answer(503)
        try repo.setFlag("checkout", rollout: 80)
        try repo.commit("checkout to 80%")
        try await eventually("the message is given up after 3 s") {
            try count(database, "SELECT count(*) FROM notification_deliveries WHERE state = 'given_up'") == 1
        }
        #expect(receiver.requests("flags.changed").count > 3, "a 503 is retried")
        let lastError = try scalar(database, "SELECT error FROM notification_deliveries WHERE state = 'given_up'")
        #expect(lastError == "HTTP 503")
        try await eventually("status shows it") {
            let status = try daemon.http("GET", "/api/v1/status").body
            return status.contains("\"givenUp\":1") && status.contains("\"failed\":2")
        }
        let metrics = try daemon.http("GET", "/metrics").body
        #expect(metrics.contains("flagstaff_notifications_given_up_total{receiver=\"http://127.0.0.1:\(receiver.port)#"))
        #expect(metrics.contains("flagstaff_notifications_pending{receiver="))
        daemon.terminate()
    }

    @Test func aHangingReceiverDoesNotDelayTheNextSync() async throws {
        let repo = try FlagRepository()
        let database = try Services.database()
        let receiver = try WebhookReceiver()
        receiver.mode = .hang
        let daemon = try Self.daemon(repo, receiver, postgres: database)
        try await daemon.waitUntilListening()
        try await eventually("revision 1 served") { try servedRevision(daemon.port) == 1 }
        try await eventually("the receiver is holding a request") { !receiver.requests.isEmpty }
        for (index, rollout) in [35, 45].enumerated() {
            try repo.setFlag("checkout", rollout: rollout)
            try repo.commit("checkout to \(rollout)%")
            let started = Date()
            try await eventually(3, "revision \(index + 2) served while the receiver hangs") {
                try servedRevision(daemon.port) == index + 2
            }
            #expect(Date().timeIntervalSince(started) < 3)
        }
        receiver.stop()
        daemon.terminate()
    }

    @Test func withoutPostgreSQLNotificationsGoOutFromMemory() async throws {
        let repo = try FlagRepository()
        let receiver = try WebhookReceiver()
        let daemon = try Self.daemon(repo, receiver, postgres: nil)
        try await daemon.waitUntilListening()
        try await eventually("revision 1 is announced") { Self.revisions(Self.messages(receiver, "flags.changed")) == [1] }
        try Self.killed(repo, "banner")
        try repo.commit("kill banner")
        try await eventually("the kill switch is announced") { Self.messages(receiver, "flag.killed").count == 1 }
        #expect(daemon.logText.contains("notifications are kept in memory"))
        #expect(receiver.requests.allSatisfy(Self.signed))
        daemon.terminate()
    }

    /// Prints the median time from a sync (the event's `time`, taken in its transaction) to
    /// the receiver, over 20 commits; scripts/bench-notify.sh runs this test alone.
    @Test func syncToReceiverLatency() async throws {
        let (repo, _, receiver, daemon) = try await Self.started()
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var syncToReceiver: [Double] = []
        var commitToReceiver: [Double] = []
        for step in 0..<20 {
            try repo.setFlag("checkout", rollout: 11 + step)
            let committed = Date()
            try repo.commit("checkout to \(11 + step)%")
            try await eventually("revision \(step + 2) is announced") {
                Self.revisions(Self.messages(receiver, "flags.changed")).last == Int64(step + 2)
            }
            let request = try #require(Self.messages(receiver, "flags.changed").last)
            guard case .string(let time)? = request.json["time"], let synced = formatter.date(from: time) else {
                throw TestFailure("no time")
            }
            syncToReceiver.append(request.receivedAt.timeIntervalSince(synced))
            commitToReceiver.append(request.receivedAt.timeIntervalSince(committed))
        }
        func describe(_ values: [Double]) -> String {
            let sorted = values.sorted()
            return String(
                format: "median %.1f ms, p90 %.1f ms, max %.1f ms", sorted[sorted.count / 2] * 1000,
                sorted[sorted.count * 9 / 10] * 1000, sorted.last! * 1000)
        }
        print("notify latency: sync → receiver over \(syncToReceiver.count) commits: \(describe(syncToReceiver))")
        print("notify latency: commit → receiver (0.2 s polls): \(describe(commitToReceiver))")
        #expect(syncToReceiver.sorted()[syncToReceiver.count / 2] < 0.2, "median under 200 ms")
        daemon.terminate()
    }
}
