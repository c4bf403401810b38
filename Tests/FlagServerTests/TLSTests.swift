import FlagServer
import Foundation
import Testing

/// Certificates made for the test with the openssl command line, in a folder of their own.
struct TestCertificates {
    let folder: URL
    var certificate: String { folder.appendingPathComponent("cert.pem").path }
    var key: String { folder.appendingPathComponent("key.pem").path }
    var otherKey: String { folder.appendingPathComponent("other-key.pem").path }

    /// A self-signed certificate for 127.0.0.1 and localhost, with an `algorithm` key
    /// (`rsa:2048` or `ec`), and an unrelated key.
    init(algorithm: String) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("flagstaff-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var request = ["req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=flagstaff test",
                       "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", certificate]
        if algorithm == "ec" {
            request += ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        } else {
            request += ["-newkey", algorithm]
        }
        try Self.openssl(request)
        try Self.openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", otherKey])
    }

    static func openssl(_ arguments: [String]) throws {
        let result = try run("openssl", arguments)
        guard result.status == 0 else { throw HTTPTestError("openssl \(arguments.first ?? ""): \(result.output)") }
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}

/// Runs a program, returning its exit status and its standard output and error together.
func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [program] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// `run` off the cooperative pool: a test that blocks a pool thread while the server's
/// handlers need one would stall itself.
func runInBackground(_ program: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try run(program, arguments) }) }
    }
}

@Suite("HTTPS with --tls-cert and --tls-key")
struct TLSTests {
    func curl(_ port: Int, _ certificates: TestCertificates, _ extra: [String] = [], path: String = "/healthz")
        async throws -> (status: Int32, output: String)
    {
        try await runInBackground(
            "curl",
            ["-s", "-S", "-m", "5", "--cacert", certificates.certificate, "-w", "\n%{http_code}"] + extra
                + ["https://127.0.0.1:\(port)\(path)"])
    }

    @Test(arguments: ["rsa:2048", "ec"])
    func servesHTTPSWithTLS12AndUpAndRefusesOlderOrPlainHTTP(algorithm: String) async throws {
        let certificates = try TestCertificates(algorithm: algorithm)
        defer { certificates.remove() }
        var configuration = FlagServer.Configuration(port: 0)
        configuration.tls = TLSFiles(certificate: certificates.certificate, key: certificates.key)
        try await withServer(try openServer(configuration)) { port throws in
            let health = try await curl(port, certificates)
            #expect(health.status == 0, "\(health.output)")
            #expect(health.output == "ok\n\n200", "\(health.output)")
            let ofrep = try await curl(
                port, certificates, ["-X", "POST", "-d", #"{"context":{"targetingKey":"u-1","email":"kim@acme.com"}}"#],
                path: "/ofrep/v1/evaluate/flags/dark-mode")
            #expect(ofrep.output.contains(#""variant":"on""#), "\(ofrep.output)")

            // curl -v says which version it agreed: "SSL connection using TLSv1.2 / …".
            let tls12 = try await curl(port, certificates, ["-v", "--tlsv1.2", "--tls-max", "1.2"])
            #expect(tls12.status == 0 && tls12.output.contains("SSL connection using TLSv1.2"), "\(tls12.output)")
            let tls13 = try await curl(port, certificates, ["-v", "--tlsv1.3"])
            #expect(tls13.status == 0 && tls13.output.contains("SSL connection using TLSv1.3"), "\(tls13.output)")
            // The client is told to allow TLS 1.1 (and its ciphers); the server must still refuse.
            let tls11 = try await curl(port, certificates, ["--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0"])
            #expect(tls11.status != 0, "TLS 1.1 was accepted: \(tls11.output)")
            // Refused by the server (its alert), not by the client's own settings.
            #expect(tls11.output.contains("alert protocol version"), "\(tls11.output)")

            let plain = try await runInBackground("curl", ["-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/healthz"])
            #expect(!plain.output.hasPrefix("200"), "plain HTTP on the HTTPS port answered: \(plain.output)")
            let unknownCA = try await runInBackground("curl", ["-s", "-m", "5", "https://127.0.0.1:\(port)/healthz"])
            #expect(unknownCA.status == 60, "a client that does not trust the certificate refuses it: \(unknownCA.output)")
        }
    }

    @Test func anUnusableCertificateOrKeyIsNamedAtStart() throws {
        let certificates = try TestCertificates(algorithm: "ec")
        defer { certificates.remove() }
        func problem(_ files: TLSFiles) throws -> String {
            var configuration = FlagServer.Configuration(port: 0)
            configuration.tls = files
            do {
                _ = try openServer(configuration).application(logger: .init(label: "test"))
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        let missing = try problem(TLSFiles(certificate: certificates.folder.path + "/none.pem", key: certificates.key))
        #expect(missing.contains("--tls-cert '\(certificates.folder.path)/none.pem' is not a readable PEM certificate"), "\(missing)")
        let keyAsCertificate = try problem(TLSFiles(certificate: certificates.key, key: certificates.key))
        #expect(keyAsCertificate.contains("--tls-cert"), "\(keyAsCertificate)")
        let certificateAsKey = try problem(TLSFiles(certificate: certificates.certificate, key: certificates.certificate))
        #expect(certificateAsKey.contains("--tls-key"), "\(certificateAsKey)")
        let mismatched = try problem(TLSFiles(certificate: certificates.certificate, key: certificates.otherKey))
        #expect(mismatched.contains("refused"), "a key that is not the certificate's: \(mismatched)")
    }
}
