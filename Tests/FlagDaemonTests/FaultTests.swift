import FlagBus
import FlagModel
import FlagStore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Crashes, outages and failover", .serialized)
struct FaultTests {
    /// Killed at a fault point while applying the second commit, restarted without it: the
    /// state converges with every audit row once and a valid chain.
    func crashAndConverge(at point: String) async throws {
        let repo = try FlagRepository()
        let database = try Services.database()
        let redisURL = try Services.redisURL()
        let prefix = Services.prefix()
        let first = try DaemonProcess.daemon(repo: repo, postgres: database, redis: redisURL, prefix: prefix)
        try await first.waitUntilListening()
        try await eventually("revision 1") { try servedRevision(first.port) == 1 }
        first.terminate()

        try repo.setFlag("checkout", rollout: 55)
        try repo.commit("checkout 55")
        let crashing = try DaemonProcess.daemon(
            repo: repo, postgres: database, redis: redisURL, prefix: prefix,
            environment: ["FLAGSTAFF_FAULT_POINT": point])
        let status = crashing.waitForExit()
        #expect(status == 128 + SIGKILL, "killed at \(point): \(crashing.logText.suffix(1500))")

        let redis = try RedisConnection(url: redisURL)
        let restarted = try DaemonProcess.daemon(repo: repo, postgres: database, redis: redisURL, prefix: prefix)
        try await restarted.waitUntilListening()
        try await eventually("revision 2 served after restart") { try servedRevision(restarted.port) == 2 }
        try await eventually("Redis has revision 2") { try redis.get("\(prefix):shop:production:revision") == Array("2".utf8) }
        #expect(try count(database, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0)
        let rows = try count(
            database, "SELECT count(*) FROM audit_logs WHERE resource_key = 'checkout' AND environment = 'production'")
        #expect(rows == 2, "created once and updated once, whatever the crash")
        #expect(try count(database, "SELECT count(*) FROM snapshots WHERE revision = 2") == 1)
        let verify = try runCLI(["audit", "verify", "--postgres", database])
        #expect(verify.status == 0, "\(verify.output)")
        restarted.terminate()
    }

    @Test func killedBetweenThePostgresCommitAndTheRedisPublish() async throws {
        try await crashAndConverge(at: "apply.after-commit")
    }

    @Test func killedInTheMiddleOfTheTransaction() async throws {
        try await crashAndConverge(at: "apply.mid-transaction")
    }

    @Test func aTamperedAuditRowIsNamedByAuditVerify() async throws {
        let repo = try FlagRepository()
        let database = try Services.database()
        let daemon = try DaemonProcess.daemon(repo: repo, postgres: database)
        try await daemon.waitUntilListening()
        try await eventually("revision 1") { try servedRevision(daemon.port) == 1 }
        daemon.terminate()
        #expect(try runCLI(["audit", "verify", "--postgres", database]).status == 0)
        let target = try #require(try scalar(database, "SELECT min(id) + 1 FROM audit_logs"))
        let connection = try PostgresConnection(url: database)
        try connection.query("SET flagstaff.allow_audit_tamper = on")
        try connection.query("UPDATE audit_logs SET actor = 'mallory' WHERE id = $1", [target])
        let verify = try runCLI(["audit", "verify", "--postgres", database])
        #expect(verify.status == 1)
        #expect(verify.output.contains(target), "names row \(target): \(verify.output)")
    }

    @Test func twoDaemonsNeverBothSyncAndTheOtherTakesOver() async throws {
        let repo = try FlagRepository()
        let database = try Services.database()
        let a = try DaemonProcess.daemon(repo: repo, postgres: database)
        try await a.waitUntilListening()
        try await eventually("a leads") { !a.logged("this daemon is now the leader: it syncs").isEmpty }
        let b = try DaemonProcess.daemon(repo: repo, postgres: database)
        try await b.waitUntilListening()
        try await eventually("b follows revision 1") { try servedRevision(b.port) == 1 }
        try repo.setFlag("banner", rollout: 20)
        try repo.commit("banner 20")
        try await eventually("b serves what a applied") { try servedRevision(b.port) == 2 }
        #expect(b.logged("this daemon is now the leader: it syncs").isEmpty, "b never led while a lived")
        #expect(b.logged("applied").isEmpty, "only the leader applies")

        let killedAt = Date()
        a.kill9()
        try await eventually(10, "b takes over") { !b.logged("this daemon is now the leader: it syncs").isEmpty }
        let takeover = Date().timeIntervalSince(killedAt)
        #expect(takeover < 5, "takeover took \(takeover) s")
        try repo.setFlag("banner", rollout: 25)
        try repo.commit("banner 25")
        try await eventually("b applies the next commit") { try servedRevision(b.port) == 3 }
        #expect(try count(database, "SELECT count(*) FROM snapshots WHERE revision = 3") == 1)
        #expect(try runCLI(["audit", "verify", "--postgres", database]).status == 0)
        b.terminate()
    }

    @Test func postgresStoppedAndStartedUnderARunningDaemon() async throws {
        let server = try PrivatePostgres()
        defer { server.stop() }
        let database = server.url
        let repo = try FlagRepository()
        let daemon = try DaemonProcess.daemon(repo: repo, postgres: database)
        try await daemon.waitUntilListening()
        try await eventually("revision 1") { try servedRevision(daemon.port) == 1 }

        server.stop()
        try repo.setFlag("checkout", rollout: 35)
        try repo.commit("checkout 35 while the database is down")
        try await Task.sleep(for: .seconds(1))
        // Evaluation never waits on the database.
        let started = Date()
        #expect(try servedValue(daemon, flag: "checkout") != nil)
        #expect(Date().timeIntervalSince(started) < 1)
        #expect(try servedRevision(daemon.port) == 1)

        try server.start()
        try await eventually(30, "the commit is applied once the database is back") { try servedRevision(daemon.port) == 2 }
        #expect(try count(database, "SELECT count(*) FROM snapshots WHERE revision = 2") == 1)
        daemon.terminate()
    }

    @Test func redisStoppedAndStartedKeepsTheOutboxUntilItIsBack() async throws {
        let redisServer = try PrivateRedis()
        defer { redisServer.stop() }
        let repo = try FlagRepository()
        let database = try Services.database()
        let prefix = Services.prefix()
        let daemon = try DaemonProcess.daemon(repo: repo, postgres: database, redis: redisServer.url, prefix: prefix)
        try await daemon.waitUntilListening()
        try await eventually("revision 1") { try servedRevision(daemon.port) == 1 }
        try await eventually("an empty outbox is reported") { try outboxPending(daemon) == 0 }

        redisServer.stop()
        try repo.setFlag("checkout", rollout: 45)
        try repo.commit("checkout 45 while Redis is down")
        try await eventually("applied in PostgreSQL") {
            try count(database, "SELECT count(*) FROM snapshots WHERE revision = 2") == 1
        }
        try await Task.sleep(for: .seconds(0.5))
        #expect(try count(database, "SELECT count(*) FROM outbox WHERE published_at IS NULL") >= 1)
        try await eventually("the waiting message is reported") { try outboxPending(daemon) == 1 }

        try redisServer.start()
        let redis = try RedisConnection(url: redisServer.url)
        try await eventually(30, "the outbox drains to Redis") {
            try redis.get("\(prefix):shop:production:revision") == Array("2".utf8)
        }
        #expect(try count(database, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0)
        try await eventually("the drained outbox is reported") { try outboxPending(daemon) == 0 }
        daemon.terminate()
    }
}

/// `flagstaff_outbox_pending` from the daemon's `/metrics`; nil while it has none.
func outboxPending(_ daemon: DaemonProcess) throws -> Double? {
    let body = try daemon.http("GET", "/metrics").body
    let prefix = "flagstaff_outbox_pending "
    guard let line = body.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
    return Double(line.dropFirst(prefix.count))
}

// MARK: Servers of a test's own

func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

@discardableResult
func shell(_ command: String) throws -> String {
    let result = try Spawn.run(["/bin/bash", "-c", command])
    guard result.status == 0 else { throw TestFailure("\(command): \(result.output)") }
    return result.output
}

/// A PostgreSQL cluster that only one test uses, so it can be stopped and started.
final class PrivatePostgres: @unchecked Sendable {
    let directory: String
    let port = freePort()
    let bin: String
    let asUser: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("flagstaff-pg-\(UUID().uuidString)").path
        bin = try shell("ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1").trimmingCharacters(in: .whitespacesAndNewlines)
        asUser = getuid() == 0 ? "runuser -u postgres -- " : ""
        try shell("mkdir -p \(directory) && chmod 755 \(directory)" + (getuid() == 0 ? " && chown postgres \(directory)" : ""))
        try shell("\(asUser)\(bin)/initdb -D \(directory)/data -A trust -U flagstaff -E UTF8 --no-locale >/dev/null")
        try start()
    }

    var url: String { "postgresql://flagstaff@127.0.0.1:\(port)/postgres" }

    func start() throws {
        try shell(
            "\(asUser)\(bin)/pg_ctl -D \(directory)/data -l \(directory)/log -w -o '-h 127.0.0.1 -p \(port) -k \(directory)/data -c fsync=off' start >/dev/null")
    }

    func stop() {
        _ = try? shell("\(asUser)\(bin)/pg_ctl -D \(directory)/data -m fast -w stop >/dev/null 2>&1")
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A Redis server that only one test uses.
final class PrivateRedis: @unchecked Sendable {
    let port = freePort()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flagstaff-redis-\(UUID().uuidString)").path

    init() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try start()
    }

    var url: String { "redis://127.0.0.1:\(port)" }

    func start() throws {
        try shell(
            "redis-server --bind 127.0.0.1 --port \(port) --save '' --appendonly no --daemonize yes --dir \(directory) "
                + "--pidfile \(directory)/redis.pid --logfile \(directory)/redis.log")
        for _ in 0..<50 {
            if (try? shell("redis-cli -p \(port) ping")) != nil { return }
            usleep(100_000)
        }
    }

    func stop() {
        _ = try? shell("redis-cli -p \(port) shutdown nosave")
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
