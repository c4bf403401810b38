import Foundation
import Hummingbird
import Logging
import Synchronization

/// A JWKS served over HTTP on loopback by a Hummingbird app, counting the reads.
final class JWKSServer: Sendable {
    let document: Mutex<String>
    let reads = Mutex(0)

    init(_ document: String) {
        self.document = Mutex(document)
    }

    struct NotStarted: Error {}

    /// Runs the server on a free port for the duration of `body`, which gets the JWKS URL; the server
    /// is stopped when `body` returns.
    func serve<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
        let router = Router()
        router.get("jwks") { _, _ -> String in
            self.reads.withLock { $0 += 1 }
            return self.document.withLock { $0 }
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "JWKSServer")
        logger.logLevel = .critical  // stopping it mid-test logs errors that mean nothing here
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger
        )
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(), port != 0 else { throw NotStarted() }
            let result = try await body("http://127.0.0.1:\(port)/jwks")
            group.cancelAll()
            try? await group.waitForAll()
            return result
        }
    }
}
