import Hummingbird
import HummingbirdTLS
import NIOSSL
import HummingbirdCore

/// The certificate and key that `--tls-cert` and `--tls-key` name, for serving HTTPS
/// without a proxy in front.
public struct TLSFiles: Sendable, Hashable {
    /// PEM: the server certificate, then any intermediates.
    public var certificate: String
    /// PEM: the private key (RSA or EC), unencrypted.
    public var key: String

    public init(certificate: String, key: String) {
        self.certificate = certificate
        self.key = key
    }

    /// The server's TLS settings: TLS 1.2 at least, NIOSSL's default (forward-secret) ciphers.
    /// Read once at start; a renewed certificate is picked up by a restart.
    func configuration() throws(TLSSetupError) -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificate)
        } catch {
            throw TLSSetupError("--tls-cert '\(certificate)' is not a readable PEM certificate (\(error))")
        }
        guard !chain.isEmpty else { throw TLSSetupError("--tls-cert '\(certificate)' holds no certificate") }
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        } catch {
            throw TLSSetupError("--tls-key '\(key)' is not a readable, unencrypted PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = .tlsv12
        // Made here once so that a key that is not the certificate's stops the start, instead
        // of failing every handshake later.
        do {
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError(
                "--tls-cert '\(certificate)' and --tls-key '\(key)' were refused together (is the key the "
                    + "certificate's?): \(error)")
        }
        return configuration
    }
}

/// A certificate or key that cannot be used, named by its option.
public struct TLSSetupError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension FlagServer {
    /// HTTP/1.1, wrapped in TLS when `configuration.tls` is set.
    func serverBuilder(_ base: HTTPServerBuilder) throws(TLSSetupError) -> HTTPServerBuilder {
        guard let tls = configuration.tls else { return base }
        let settings = try tls.configuration()
        do {
            return try .tls(base, tlsConfiguration: settings)
        } catch {
            throw TLSSetupError("the TLS settings were refused: \(error)")
        }
    }
}
