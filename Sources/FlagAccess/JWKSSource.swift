import AsyncHTTPClient
import Foundation
import NIOCore

/// Where a JWKS document is read from: `--jwt-jwks FILE|URL`.
enum JWKSSource: Sendable, CustomStringConvertible {
    case file(String)
    case url(String)

    /// A JWKS larger than this is not a key set.
    static let maximumSize = 1 << 20

    init(_ jwks: String) {
        let lowercased = jwks.lowercased()
        self = lowercased.hasPrefix("http://") || lowercased.hasPrefix("https://") ? .url(jwks) : .file(jwks)
    }

    var description: String {
        switch self {
        case .file(let path): "file \(path)"
        case .url(let url): url
        }
    }

    /// Reads the file. Synchronous, and only used where a small local file read is acceptable: at start,
    /// and on the refresh schedule.
    func readFile(_ path: String) throws(JWKSError) -> Data {
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard data.count <= Self.maximumSize else {
                throw JWKSError("JWKS file \(path) is larger than \(Self.maximumSize) bytes")
            }
            return data
        } catch let error as JWKSError {
            throw error
        } catch {
            throw JWKSError("cannot read JWKS file \(path): \(error.localizedDescription)")
        }
    }

    /// Reads the document from its file or URL.
    func load() async throws(JWKSError) -> Data {
        switch self {
        case .file(let path):
            return try readFile(path)
        case .url(let url):
            do {
                var request = HTTPClientRequest(url: url)
                request.headers.add(name: "Accept", value: "application/jwk-set+json, application/json")
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                guard response.status == .ok else {
                    throw JWKSError("GET \(url) answered \(response.status)")
                }
                let body = try await response.body.collect(upTo: Self.maximumSize)
                return Data(body.readableBytesView)
            } catch let error as JWKSError {
                throw error
            } catch {
                throw JWKSError("GET \(url) failed: \(error)")
            }
        }
    }
}
