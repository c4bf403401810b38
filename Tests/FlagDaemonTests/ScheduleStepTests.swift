import FlagModel
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A child process whose standard output goes to a file, stopped when the test ends.
private final class Recorder: @unchecked Sendable {
    let output: URL
    let pid: pid_t

    init(_ arguments: [String]) throws {
        output = FileManager.default.temporaryDirectory.appendingPathComponent("record-\(UUID().uuidString).txt")
        let fd = open(output.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer {
            close(fd)
            close(devNull)
        }
        pid = try Spawn.start(arguments, environment: nil, stdout: fd, stderr: devNull)
    }

    var text: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    deinit {
        // redis-cli ignores SIGTERM while subscribed.
        kill(pid, SIGKILL)
        _ = Spawn.wait(pid)
        try? FileManager.default.removeItem(at: output)
    }
}

/// A bulk OFREP evaluation with curl: status, ETag and body.
private func bulk(port: Int, ifNoneMatch: String? = nil) throws -> (status: Int, etag: String?, body: String) {
    var arguments = [
        "curl", "-s", "-m", "5", "-D", "-", "-X", "POST", "-H", "Content-Type: application/json",
        "--data-binary", #"{"context":{"targetingKey":"u-2"}}"#,
    ]
    if let ifNoneMatch { arguments += ["-H", "If-None-Match: \(ifNoneMatch)"] }
    arguments.append("http://127.0.0.1:\(port)/ofrep/v1/evaluate/flags")
    let text = try Spawn.run(arguments).output
    let parts = text.components(separatedBy: "\r\n\r\n")
    let head = parts[0].split(separator: "\r\n")
    let status = head.first.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
    let etag = head.first { $0.lowercased().hasPrefix("etag:") }.map {
        String($0.dropFirst(5)).trimmingCharacters(in: .whitespaces)
    }
    return (status, etag, parts.dropFirst().joined(separator: "\r\n\r\n"))
}

/// `2026-12-07T09:00:00Z` for a whole second `seconds` from now.
private func isoTime(secondsFromNow seconds: Int) -> (text: String, date: Date) {
    let date = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + Double(seconds)).rounded(.down))
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return (formatter.string(from: date), date)
}

/// The production entry of `/api/v1/status`.
private func productionStatus(_ daemon: DaemonProcess) throws -> [String: Value] {
    guard case .object(let status) = try JSONParser.parse(try daemon.http("GET", "/api/v1/status").body),
        case .array(let environments)? = status["environments"]
    else { throw TestFailure("no status") }
    for case .object(let entry) in environments where entry["environment"] == .string("production") { return entry }
    throw TestFailure("no production in the status")
}

@Suite("Schedules step while serving (SPEC §17)", .serialized)
struct ScheduleStepTests {
    @Test func aStepAFewSecondsAheadReachesStreamsRedisAndTheBulkETagOnDaemonAndReplica() async throws {
        let repo = try FlagRepository()
        let database = try Services.database()
        let redis = try Services.redisURL()
        let prefix = Services.prefix()
        let channel = "\(prefix):shop:production"
        let subscriber = try Recorder(["redis-cli", "-u", redis, "SUBSCRIBE", channel])
        let receiver = try WebhookReceiver()
        let daemon = try DaemonProcess.daemon(
            repo: repo, postgres: database, redis: redis, prefix: prefix,
            extra: ["--notify", receiver.url, "--notify-secret", NotificationTests.secret])
        try await daemon.waitUntilListening()
        let replica = try DaemonProcess(["replica", "--redis", redis, "--redis-prefix", prefix, "--no-auth"])
        try await replica.waitUntilListening()
        try await eventually("both serve revision 1") {
            try servedRevision(daemon.port) == 1 && servedRevision(replica.port) == 1
        }
        let daemonStream = try Recorder(
            ["curl", "-s", "-N", "-m", "40", "http://127.0.0.1:\(daemon.port)/api/v1/stream?events=ofrep"])
        let replicaStream = try Recorder(
            ["curl", "-s", "-N", "-m", "40", "http://127.0.0.1:\(replica.port)/api/v1/stream?events=ofrep"])
        try await eventually("both streams opened") {
            daemonStream.text.contains("refetchEvaluation") && replicaStream.text.contains("refetchEvaluation")
        }
        // The step is set once everything runs, so that a slow start cannot outrun it.
        let step = isoTime(secondsFromNow: 8)
        try repo.write([
            "shop/flags/launch.yaml": """
            rules:
              - name: go live
                rollout:
                  steps: [{ at: \(step.text), percentage: 100 }]
                serve: on
            """
        ])
        try repo.commit("launch in eight seconds")
        try await eventually("both serve revision 2") {
            try servedRevision(daemon.port) == 2 && servedRevision(replica.port) == 2
        }

        #expect(Date() < step.date, "the servers must start before the step for this test to mean anything")
        #expect(try productionStatus(daemon)["nextScheduleStep"] == .string(step.text))
        var before: (daemon: String?, replica: String?) = (nil, nil)
        for (port, name) in [(daemon.port, "daemon"), (replica.port, "replica")] {
            let answer = try bulk(port: port)
            #expect(answer.status == 200)
            #expect(answer.body.contains(#""key":"launch","metadata":{"reason":"DEFAULT""#), "\(name): \(answer.body)")
            #expect(try bulk(port: port, ifNoneMatch: answer.etag).status == 304, "\(name): cached until the step")
            if name == "daemon" { before.daemon = answer.etag } else { before.replica = answer.etag }
        }
        #expect(before.daemon == before.replica)

        try await eventually(25, "both streams tell their clients at the step") {
            daemonStream.text.contains(#""reason":"schedule""#) && replicaStream.text.contains(#""reason":"schedule""#)
        }
        let streamed = Date()
        #expect(streamed >= step.date)
        #expect(streamed.timeIntervalSince(step.date) < 3, "told \(streamed.timeIntervalSince(step.date)) s after the step")
        for (port, name) in [(daemon.port, "daemon"), (replica.port, "replica")] {
            let after = try bulk(port: port, ifNoneMatch: before.daemon)
            #expect(after.status == 200, "\(name): the old ETag no longer matches")
            #expect(after.etag != before.daemon)
            #expect(after.etag?.contains("@\(Int(step.date.timeIntervalSince1970))") == true, "\(name): \(after.etag ?? "")")
            #expect(after.body.contains(#""key":"launch","metadata":{"reason":"TARGETING_MATCH""#), "\(name): \(after.body)")
        }
        try await eventually("the step is published on the environment's channel") {
            subscriber.text.contains(#""event":"schedule.step""#) && subscriber.text.contains(#""flags":["launch"]"#)
        }
        try await eventually("the webhook receiver is told, signed") {
            NotificationTests.messages(receiver, "schedule.step").count == 1
        }
        let told = try #require(NotificationTests.messages(receiver, "schedule.step").first)
        #expect(NotificationTests.signed(told))
        #expect(told.json["revision"] == .int(2))
        guard case .object(let details)? = told.json["details"] else { throw TestFailure("no details") }
        #expect(details["flags"] == .array(["launch"]))
        #expect(
            details["changes"]
                == .array([#"launch rule 1 "go live": rollout 0% → 100%: 100.0% of users matching rule 1 "go live" change from off to on"#]),
            "\(details)")
        #expect(try productionStatus(daemon)["nextScheduleStep"] == .null, "no step after the last one")
        // No new snapshot: the replica did not reload, both still serve revision 2.
        #expect(try servedRevision(daemon.port) == 2)
        #expect(try servedRevision(replica.port) == 2)
        #expect(replica.logged("swapped").count == 3, "one swap per environment at start, one for the commit, none at the step")
        #expect(daemon.logged("schedule step").count == 1)
        replica.terminate()
        daemon.terminate()
    }
}
