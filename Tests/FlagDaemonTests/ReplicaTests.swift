import FlagModel
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Replicas, the event stream and the unit files", .serialized)
struct ReplicaTests {
    @Test func aCommitReachesAReplicaThroughRedisAndSurvivesARedisRestart() async throws {
        let redisServer = try PrivateRedis()
        defer { redisServer.stop() }
        let repo = try FlagRepository()
        let database = try Services.database()
        let prefix = Services.prefix()
        let daemon = try DaemonProcess.daemon(repo: repo, postgres: database, redis: redisServer.url, prefix: prefix)
        try await daemon.waitUntilListening()
        let replica = try DaemonProcess(
            ["replica", "--redis", redisServer.url, "--redis-prefix", prefix, "--no-auth", "--environment", "production"])
        try await replica.waitUntilListening()
        try await eventually("the replica serves revision 1") { try servedRevision(replica.port) == 1 }
        #expect(try curl(port: replica.port, "GET", "/api/v1/snapshot", headers: ["X-Flagstaff-Environment": "staging"]).status == 404,
                "--environment production leaves staging out")

        try repo.setFlag("checkout", rollout: 65)
        try repo.commit("checkout 65")
        try await eventually("the replica swaps to revision 2") { try servedRevision(replica.port) == 2 }
        let value = try servedValue(replica, flag: "checkout", context: #"{"targetingKey":"u-1"}"#)
        #expect(value?.contains(#""value":true"#) == true)

        redisServer.stop()
        try await Task.sleep(for: .seconds(1))
        #expect(try servedRevision(replica.port) == 2, "a replica keeps serving without Redis")
        try redisServer.start()
        // The restarted Redis is empty until the daemon publishes again.
        try repo.setFlag("checkout", rollout: 75)
        try repo.commit("checkout 75")
        try await eventually(30, "the replica reconnects and gets revision 3") { try servedRevision(replica.port) == 3 }
        replica.terminate()
        daemon.terminate()
    }

    @Test func anSSEClientSeesANewSnapshotEventAfterACommit() async throws {
        let repo = try FlagRepository()
        let daemon = try DaemonProcess.daemon(repo: repo)
        try await daemon.waitUntilListening()
        try await eventually("revision 1") { try servedRevision(daemon.port) == 1 }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("sse-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: output) }
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(devNull) }
        let curl = try Spawn.start(
            ["curl", "-s", "-N", "-m", "30", "-o", output.path, "http://127.0.0.1:\(daemon.port)/api/v1/stream"],
            environment: nil, stdout: devNull, stderr: devNull)
        defer {
            kill(curl, SIGTERM)
            _ = Spawn.wait(curl)
        }
        func received() -> String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
        try await eventually("the current snapshot first") { received().contains("id: 1\nevent: snapshot") }
        try repo.setFlag("banner", rollout: 5)
        try repo.commit("banner 5")
        try await eventually("a snapshot event for revision 2") { received().contains("id: 2\nevent: snapshot") }
        #expect(received().contains(#""type":"refetchEvaluation""#))
        daemon.terminate()
    }

    @Test func withoutPostgresOrRedisTheDaemonStillServesAndSaysWhatIsOff() async throws {
        let repo = try FlagRepository()
        let daemon = try DaemonProcess.daemon(repo: repo)
        try await daemon.waitUntilListening()
        try await eventually("revision 1") { try servedRevision(daemon.port) == 1 }
        let text = daemon.logText
        #expect(text.contains("PostgreSQL is off"))
        #expect(text.contains("Redis is off"))
        #expect(text.contains("AUTHENTICATION IS OFF"))
        #expect(try daemon.http("GET", "/readyz").status == 200)
        daemon.terminate()
    }

    @Test func theDaemonRefusesToStartWithoutAnyKeySource() throws {
        let repo = try FlagRepository()
        let result = try runCLI(["daemon", "--repo", repo.url.path, "--listen", "127.0.0.1:0"])
        #expect(result.status == 1)
        #expect(result.output.contains("--no-auth"), "\(result.output)")
    }

    @Test func theUnitFilesPassSystemdAnalyzeVerify() throws {
        let analyzer = "/usr/bin/systemd-analyze"
        guard FileManager.default.isExecutableFile(atPath: analyzer) else { return }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var names: [String] = []
        for name in ["flagstaff.service", "flagstaff-replica.service"] {
            var text = try String(
                contentsOf: Paths.packageRoot.appendingPathComponent("systemd/\(name)"), encoding: .utf8)
            #expect(text.contains("Type=notify"))
            #expect(text.contains("NoNewPrivileges=yes") && text.contains("ProtectSystem=strict") && text.contains("PrivateTmp=yes"))
            // Verify needs the binary and the environment file to exist: point at the built ones.
            text = text.replacingOccurrences(of: "/usr/local/bin/flagstaff", with: Paths.binary)
            text = text.replacingOccurrences(of: "EnvironmentFile=/", with: "EnvironmentFile=-/")
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
            names.append(directory.appendingPathComponent(name).path)
        }
        let result = try shellResult([analyzer, "verify"] + names)
        #expect(result.status == 0, "\(result.output)")
        #expect(!result.output.contains(directory.path), "no complaint about our units: \(result.output)")
    }

    @Test func theDaemonNotifiesSystemdThatItIsReady() async throws {
        let socketPath = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString.prefix(8))").path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd); unlink(socketPath) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in socketPath.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        let repo = try FlagRepository()
        let daemon = try DaemonProcess.daemon(
            repo: repo, environment: ["NOTIFY_SOCKET": socketPath, "WATCHDOG_USEC": "400000"])
        var messages: [String] = []
        for _ in 0..<3 {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            messages.append(String(decoding: buffer[0..<n], as: UTF8.self))
        }
        #expect(messages.contains { $0.contains("READY=1") }, "\(messages)")
        #expect(messages.contains { $0 == "WATCHDOG=1" }, "\(messages)")
        daemon.terminate()
    }
}

func shellResult(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try Spawn.run(arguments)
}
