import FlagServer
import FlagStore
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// What the daemon and the replica share: how keys are found and kept current.
enum Wiring {
    struct Setup {
        var authentication: Authentication
        var keyService: KeyService?
    }

    /// `--no-auth`, a keys file, or keys from PostgreSQL (reloaded every few seconds).
    static func authentication(
        noAuth: Bool, keysFile: String?, postgres: String?, pool: NIOThreadPool, refresh: Duration, logger: Logger
    ) throws -> Setup {
        if noAuth {
            logger.warning(
                "AUTHENTICATION IS OFF (--no-auth): anyone who can reach this port evaluates every flag. For local use only.")
            return Setup(authentication: .none)
        }
        if let keysFile {
            let text: String
            do {
                text = try String(contentsOfFile: keysFile, encoding: .utf8)
            } catch {
                throw SetupError("cannot read the keys file '\(keysFile)': \(error.localizedDescription)")
            }
            let keys: [APIKey]
            do {
                keys = try KeysFile.parse(text)
            } catch {
                throw SetupError("\(keysFile): \(error)")
            }
            logger.info("API keys from a file", metadata: ["file": "\(keysFile)", "keys": "\(keys.count)"])
            return Setup(authentication: .keys(KeyRing(keys: keys)))
        }
        guard let postgres else {
            throw SetupError(
                "no API keys: give --postgres (keys made with 'flagstaff keys create'), --keys-file FILE, "
                    + "or --no-auth for local use")
        }
        let ring = KeyRing()
        let service = KeyService(ring: ring, postgres: postgres, pool: pool, interval: refresh, logger: logger)
        service.reload()
        return Setup(authentication: .keys(ring), keyService: service)
    }
}

/// A configuration problem found at start.
public struct SetupError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Keeps the key ring equal to the `api_keys` table and writes last-used times in batches,
/// so no request waits on the database and none writes to it.
final class KeyService: Service, @unchecked Sendable {
    let ring: KeyRing
    let postgres: String
    let pool: NIOThreadPool
    let interval: Duration
    let logger: Logger
    private var connection: PostgresConnection?
    private var pendingLastUsed: [Int64: Date] = [:]

    init(ring: KeyRing, postgres: String, pool: NIOThreadPool, interval: Duration, logger: Logger) {
        self.ring = ring
        self.postgres = postgres
        self.pool = pool
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: self.interval)
                try await self.pool.runIfActive { self.reload() }
            }
        }
        // Whatever was used since the last write is written on the way out.
        try? await pool.runIfActive { self.reload() }
    }

    /// Blocking: one round trip for the keys and, when keys were used, one for their times.
    func reload() {
        for (id, date) in ring.drainLastUsed() {
            if let number = Int64(id) { pendingLastUsed[number] = date }
        }
        do {
            let connection = try self.connection ?? PostgresConnection(url: postgres)
            self.connection = connection
            let store = APIKeyStore(connection: connection)
            if !pendingLastUsed.isEmpty {
                try store.recordLastUsed(pendingLastUsed)
                pendingLastUsed.removeAll()
            }
            let keys = try store.list().compactMap { record -> APIKey? in
                guard let type = APIKeyType(rawValue: record.type) else { return nil }
                return APIKey(
                    id: String(record.id), name: record.name, project: record.project,
                    environment: record.environment, type: type, prefix: record.prefix,
                    secretHash: record.secretHash, expiresAt: record.expiresAt, revoked: record.revokedAt != nil,
                    role: record.role.flatMap(ManagementRole.init(rawValue:)))
            }
            ring.replace(with: keys)
        } catch {
            connection = nil
            // The ring keeps the keys it has: a database outage does not lock clients out.
            logger.error("could not reload API keys from PostgreSQL", metadata: ["error": "\(error)"])
        }
    }
}
