import FlagModel
import Foundation
import Testing

@Suite("The daemon over HTTPS")
struct TLSDaemonTests {
    @Test func theDaemonServesHTTPSWithItsOwnCertificateAndRefusesHalfASetting() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flagstaff-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let cert = folder.appendingPathComponent("cert.pem").path
        let key = folder.appendingPathComponent("key.pem").path
        let made = try Spawn.run(
            ["openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=flagstaff", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:prime256v1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", key, "-out", cert])
        #expect(made.status == 0, "\(made.output)")

        let repo = try FlagRepository()
        let daemon = try DaemonProcess.daemon(repo: repo, extra: ["--tls-cert", cert, "--tls-key", key])
        try await daemon.waitUntilListening()
        #expect(daemon.logged("listening").first?["scheme"] == .string("https"))
        let answer = try Spawn.run(
            ["curl", "-s", "-S", "-m", "5", "--cacert", cert, "-H", "Content-Type: application/json",
             "-d", #"{"context":{"targetingKey":"u-1"}}"#,
             "https://127.0.0.1:\(daemon.port)/ofrep/v1/evaluate/flags/checkout"])
        #expect(answer.output.contains(#""variant":"on""#), "\(answer.output)")
        daemon.terminate()

        let half = try runCLI(["daemon", "--repo", repo.url.path, "--no-auth", "--tls-cert", cert])
        #expect(half.status == 2, "\(half.output)")
        #expect(half.output.contains("--tls-cert needs --tls-key"), "\(half.output)")
        let wrong = try runCLI(
            ["daemon", "--repo", repo.url.path, "--no-auth", "--listen", "127.0.0.1:0", "--tls-cert", key, "--tls-key", key])
        #expect(wrong.status == 1, "\(wrong.output)")
        #expect(wrong.output.contains("--tls-cert '\(key)' is not a readable PEM certificate"), "\(wrong.output)")
    }
}
