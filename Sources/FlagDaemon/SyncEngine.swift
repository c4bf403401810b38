import FlagBus
import FlagCompiler
import FlagEngine
import FlagModel
import FlagNotify
import FlagServer
import FlagStore
import Foundation
import GitSource
import Logging

/// One daemon's view of the world and the blocking work of a sync pass (SPEC §9): read
/// Git, compile, test, write PostgreSQL, publish to Redis from the outbox, swap.
///
/// Every method blocks (libgit2, libpq, hiredis); the sync service calls them from one
/// thread-pool thread at a time, so the state here is never touched concurrently.
final class SyncEngine: @unchecked Sendable {
    let configuration: DaemonConfiguration
    let registry: SnapshotRegistry
    let metrics: Metrics
    var logger: Logger
    /// Outbound webhooks, when configured: fed in each sync's transaction, woken after it.
    var notifier: Notifier?

    private let cache = ParseCache()
    private var repository: GitRepository?
    private var database: PostgresConnection?
    private var leaderConnection: PostgresConnection?
    private var migrated = false
    private var redis: RedisConnection?
    /// The manifest last read from the control branch.
    private var manifest: Manifest?
    /// Per environment: the branch tip last dealt with (applied, unchanged or rejected).
    private var handledTips: [String: ObjectID] = [:]
    /// Per environment: the tip last applied, to notice force-pushes.
    private var appliedTips: [String: ObjectID] = [:]
    private var lastCompileSeconds = 0.0
    /// The canonical JSON of the snapshot being applied, so that publishing its outbox row
    /// need not read it back from PostgreSQL.
    private var justApplied: (project: String, environment: String, revision: Int64, json: [UInt8])?
    /// Per environment, the canonical JSON of each flag and segment of the version last
    /// stored, to find what a new snapshot may change without reading both back in full.
    private var storedPieces: [EnvironmentKey: StoredPieces] = [:]

    struct StoredPieces {
        var version: String
        var flags: [String: [UInt8]]
        var segments: [String: [UInt8]]

        init(_ snapshot: Snapshot, _ pieces: SnapshotPieces) {
            version = snapshot.version
            flags = Dictionary(uniqueKeysWithValues: zip(snapshot.flags.map(\.key), pieces.flagJSON))
            segments = Dictionary(uniqueKeysWithValues: zip(snapshot.segments.map(\.key), pieces.segmentJSON))
        }

        /// Keys whose canonical JSON is not byte-for-byte what is stored, and removed keys.
        func candidates(for snapshot: Snapshot, _ pieces: SnapshotPieces) -> ChangeCandidates {
            func differing(_ keys: [String], _ json: [[UInt8]], _ stored: [String: [UInt8]]) -> [String] {
                var left = stored
                var out: [String] = []
                for (key, bytes) in zip(keys, json) where left.removeValue(forKey: key) != bytes { out.append(key) }
                return out + left.keys
            }
            return ChangeCandidates(
                basedOn: version, flags: differing(snapshot.flags.map(\.key), pieces.flagJSON, flags),
                segments: differing(snapshot.segments.map(\.key), pieces.segmentJSON, segments))
        }
    }
    /// The audit head last anchored in the repository, once read (`.some(nil)`: none yet).
    private var anchoredHead: AuditHead??
    /// The last problem logged about the anchor, so that a lasting one is logged once.
    private var anchorProblem: String?
    private let leaderFlag = LockedFlag()
    /// Whether this daemon syncs; read from other threads (status, the loop's timing).
    var isLeader: Bool {
        get { leaderFlag.value }
        set { leaderFlag.value = newValue }
    }

    init(configuration: DaemonConfiguration, registry: SnapshotRegistry, metrics: Metrics, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.metrics = metrics
        self.logger = logger
        // Without PostgreSQL there is nobody to share the work with.
        self.leaderFlag.value = configuration.postgres == nil
    }

    /// What one pass achieved: the loop backs off after a failure.
    struct Outcome {
        var failed = false
    }

    // MARK: Start-up

    /// Migrates and loads the last applied snapshots, so they are served before Git is read.
    /// A database that is down now is not fatal: the passes retry.
    func loadFromDatabase() {
        guard configuration.postgres != nil else { return }
        do {
            let connection = try databaseConnection()
            var loaded = 0
            for stored in try SyncStore(connection: connection).latestSnapshots() {
                do {
                    let snapshot = try Snapshot(json: try JSONParser.parse(stored.content))
                    registry.swap(ActiveSnapshot(snapshot: snapshot, revision: stored.revision))
                    loaded += 1
                } catch {
                    logger.error(
                        "a stored snapshot could not be read",
                        metadata: ["project": "\(stored.project)", "environment": "\(stored.environment)",
                                   "revision": "\(stored.revision)", "error": "\(error)"])
                }
            }
            logger.info("serving the last applied snapshots from PostgreSQL", metadata: ["snapshots": "\(loaded)"])
        } catch {
            dropDatabase()
            logger.error("PostgreSQL is unreachable at start; serving nothing until sync", metadata: ["error": "\(error)"])
        }
    }

    // MARK: A pass

    /// One pass: settle leadership, then sync (leader) or follow (others).
    func pass() -> Outcome {
        if configuration.postgres != nil {
            updateLeadership()
            guard isLeader else { return follow() }
            var outcome = Outcome()
            if !flushOutbox() { outcome.failed = true }
            if !sync() { outcome.failed = true }
            anchorAuditHead()
            return outcome
        }
        return Outcome(failed: !sync())
    }

    /// Reads every environment's branch and applies what moved. False when something failed
    /// (Git, PostgreSQL or Redis), so the loop retries sooner.
    private func sync() -> Bool {
        let started = Date()
        let repository: GitRepository
        do {
            repository = try openRepository()
        } catch {
            noteFailure("Git: \(error)")
            return false
        }
        do {
            let tree = try repository.tree(at: try repository.resolve(configuration.controlBranch), root: configuration.root)
            let compiled = Compiler().compile(ManifestOnly(tree), options: CompileOptions(runTests: false))
            if let manifest = compiled.manifest, manifest != self.manifest {
                self.manifest = manifest
                registry.expect(
                    Set(manifest.projects.flatMap { project in
                        manifest.environments.map { EnvironmentKey(project: project.key, environment: $0.key) }
                    }))
            } else if manifest == nil {
                noteFailure("the control branch '\(configuration.controlBranch)' has no valid manifest")
                return false
            }
        } catch {
            if manifest == nil {
                noteFailure("Git: control branch '\(configuration.controlBranch)': \(error)")
                return false
            }
        }
        guard let manifest else { return false }
        var succeeded = true
        var byBranch: [String: [Manifest.Environment]] = [:]
        for environment in manifest.environments { byBranch[environment.branch, default: []].append(environment) }
        for (branch, environments) in byBranch.sorted(by: { $0.key < $1.key }) {
            guard let tip = repository.branchTip(branch) else {
                for environment in environments {
                    noteState(manifest, environment.key) {
                        $0.lastError = "branch '\(branch)' does not exist"
                        $0.lastErrorAt = Date()
                    }
                }
                continue
            }
            let moved = environments.filter { handledTips[$0.key] != tip }
            for environment in environments where handledTips[environment.key] == tip {
                noteState(manifest, environment.key) { $0.lastCheck = Date() }
            }
            if moved.isEmpty { continue }
            if !syncBranch(repository, manifest: manifest, branch: branch, tip: tip, environments: moved, noticed: started) {
                succeeded = false
            }
        }
        return succeeded
    }

    /// Compiles one branch tip for the environments that follow it and applies the result.
    private func syncBranch(
        _ repository: GitRepository, manifest: Manifest, branch: String, tip: ObjectID,
        environments: [Manifest.Environment], noticed: Date
    ) -> Bool {
        let info: CommitInfo
        let compilation: Compilation
        do {
            info = try repository.commit(tip)
            let tree = try repository.tree(at: tip, root: configuration.root)
            let options = CompileOptions(
                now: FlagServer.now(), commit: tip.hex, branch: branch, environments: Set(environments.map(\.key)),
                runTests: true)
            let compileStart = Date()
            compilation = Compiler(cache: cache).compile(tree, options: options)
            lastCompileSeconds = Date().timeIntervalSince(compileStart)
        } catch {
            noteFailure("Git: branch '\(branch)' at \(tip.short): \(error)")
            return false
        }
        let author = "\(info.author.name) <\(info.author.email)>"
        var log = logger
        log[metadataKey: "commit"] = "\(tip.short)"
        log[metadataKey: "branch"] = "\(branch)"

        for environment in environments {
            if let previous = appliedTips[environment.key], previous != tip,
                (try? repository.isDescendant(tip, of: previous)) == false
            {
                log.warning(
                    "branch was force-pushed: the new tip does not descend from the applied one",
                    metadata: ["environment": "\(environment.key)", "previous": "\(previous.short)"])
            }
        }

        if compilation.hasErrors {
            return reject(
                compilation, manifest: manifest, branch: branch, tip: tip, author: author, info: info,
                environments: environments, logger: log)
        }

        var succeeded = true
        for environment in environments {
            var environmentOK = true
            for snapshot in compilation.snapshots where snapshot.environment == environment.key {
                if !apply(
                    snapshot, compilation: compilation, tip: tip, branch: branch, author: author, info: info,
                    noticed: noticed, logger: log)
                {
                    environmentOK = false
                }
            }
            if environmentOK {
                handledTips[environment.key] = tip
                appliedTips[environment.key] = tip
            } else {
                succeeded = false
            }
        }
        return succeeded
    }

    /// Records a commit that does not compile or pass its tests, once, and keeps serving
    /// the last good snapshot.
    private func reject(
        _ compilation: Compilation, manifest: Manifest, branch: String, tip: ObjectID, author: String,
        info: CommitInfo, environments: [Manifest.Environment], logger log: Logger
    ) -> Bool {
        let errors = compilation.errors
        let formatter = DiagnosticFormatter(format: .json, pathPrefix: configuration.root.map { $0 + "/" } ?? "") { _ in nil }
        let diagnostics = formatter.render(errors)
        let first = errors.first.map { "\($0.location.file):\($0.location.line):\($0.location.column): \($0.message)" }
        let summary = "commit \(tip.short) rejected: \(errors.count) error(s)" + (first.map { "; first: \($0)" } ?? "")
        let concerned = Self.projectsConcerned(by: errors, in: manifest)
        let bystanders = manifest.projects.map(\.key).filter { !concerned.contains($0) }
        for environment in environments {
            if configuration.postgres != nil {
                do {
                    let store = SyncStore(connection: try databaseConnection())
                    for project in manifest.projects where concerned.contains(project.key) {
                        _ = try store.recordRejection(
                            organization: manifest.organization, project: project.key, environment: environment.key,
                            branch: branch, production: environment.production, commit: tip.hex, author: author,
                            message: info.message, diagnostics: diagnostics, summary: summary,
                            notifications: rejectionNotifications(
                                project: project.key, environment: environment.key, tip: tip, branch: branch,
                                author: author, info: info, summary: summary, diagnostics: diagnostics,
                                errors: errors.count))
                    }
                    notifier?.wake()
                } catch {
                    dropDatabase()
                    noteFailure("PostgreSQL: recording the rejection of \(tip.short): \(error)")
                    return false
                }
            } else {
                for project in manifest.projects where concerned.contains(project.key) {
                    enqueue(
                        rejectionNotifications(
                            project: project.key, environment: environment.key, tip: tip, branch: branch,
                            author: author, info: info, summary: summary, diagnostics: diagnostics,
                            errors: errors.count))
                }
            }
            handledTips[environment.key] = tip
            noteState(manifest, environment.key, projects: concerned) {
                $0.lastSeenCommit = tip.hex
                $0.lastCheck = Date()
                $0.lastError = summary
                $0.lastErrorAt = Date()
                $0.rejectedCommits += 1
            }
            // A commit is applied whole or not at all: the other projects keep their snapshot
            // too, and say which project holds them back.
            let heldBack =
                "commit \(tip.short) not applied: it does not compile in "
                + concerned.sorted().map { "'\($0)'" }.joined(separator: ", ") + " (see that project's status)"
            noteState(manifest, environment.key, projects: Set(bystanders)) {
                $0.lastSeenCommit = tip.hex
                $0.lastCheck = Date()
                $0.lastError = heldBack
                $0.lastErrorAt = Date()
            }
            log.error(
                "commit rejected; the last good snapshot keeps serving",
                metadata: ["environment": "\(environment.key)", "errors": "\(errors.count)",
                           "projects": "\(concerned.sorted().joined(separator: ","))", "first": "\(first ?? "")"])
        }
        return true
    }

    /// The projects whose files the errors are in; every project when one is outside them
    /// (the manifest, or a file of no declared project).
    static func projectsConcerned(by errors: [Diagnostic], in manifest: Manifest) -> Set<String> {
        let all = Set(manifest.projects.map(\.key))
        var concerned: Set<String> = []
        for error in errors {
            guard let folder = error.location.file.split(separator: "/").first.map(String.init), all.contains(folder)
            else { return all }
            concerned.insert(folder)
        }
        return concerned.isEmpty ? all : concerned
    }

    /// Applies one compiled snapshot: PostgreSQL (with its outbox row), Redis, then the swap.
    private func apply(
        _ snapshot: Snapshot, compilation: Compilation, tip: ObjectID, branch: String, author: String,
        info: CommitInfo, noticed: Date, logger log: Logger
    ) -> Bool {
        let key = EnvironmentKey(project: snapshot.project, environment: snapshot.environment)
        var log = log
        log[metadataKey: "project"] = "\(snapshot.project)"
        log[metadataKey: "environment"] = "\(snapshot.environment)"
        let revision: Int64
        var changed: [String] = []
        var removed: [String] = []
        var timings: [String: Double] = ["compile": lastCompileSeconds]
        var mark = Date()
        func lap(_ name: String) {
            timings[name] = Date().timeIntervalSince(mark)
            mark = Date()
        }
        var stored = snapshot
        stored.commit = tip.hex
        stored.branch = branch
        let pieces = compilation.pieces(of: snapshot)
        // The snapshot JSON that is stored, published and served: put together once, from
        // the compiler's pieces, and only once it is known to be needed.
        let contentBytes: [UInt8]
        func encode() -> [UInt8] { pieces.map(stored.canonicalJSON(pieces:)) ?? CanonicalJSON.encodeBytes(stored.json) }
        if configuration.postgres != nil {
            contentBytes = encode()
            let content = String(decoding: contentBytes, as: UTF8.self)
            let candidates = pieces.flatMap { pieces in storedPieces[key]?.candidates(for: snapshot, pieces) }
            lap("encode")
            let served = registry.snapshot(key)?.snapshot
            do {
                let store = SyncStore(connection: try databaseConnection())
                storedPieces[key] = nil
                guard
                    let applied = try store.apply(
                        snapshot, commit: tip.hex, branch: branch, author: author, message: info.message,
                        redisPrefix: configuration.redisPrefix, content: content, candidates: candidates,
                        notifications: { revision in
                            self.changeNotifications(
                                base: served, head: stored, revision: revision, branch: branch, author: author,
                                info: info)
                        })
                else {
                    if let pieces { storedPieces[key] = StoredPieces(snapshot, pieces) }
                    log.info("same content as the applied snapshot; nothing to do", metadata: ["version": "\(snapshot.version)"])
                    registry.updateState(key) {
                        $0.lastSeenCommit = tip.hex
                        $0.lastCheck = Date()
                    }
                    return true
                }
                revision = applied.revision
                changed = applied.changed
                removed = applied.removed
                notifier?.wake()
                lap("postgres")
                justApplied = (snapshot.project, snapshot.environment, revision, contentBytes)
                if let pieces { storedPieces[key] = StoredPieces(snapshot, pieces) }
                FaultInjection.point("apply.after-commit")
            } catch {
                dropDatabase()
                noteFailure("PostgreSQL: applying \(tip.short) to \(key): \(error)", key: key)
                return false
            }
            _ = flushOutbox()
            justApplied = nil
            lap("redis")
        } else {
            let current = registry.snapshot(key)
            if current?.version == snapshot.version {
                registry.updateState(key) {
                    $0.lastSeenCommit = tip.hex
                    $0.lastCheck = Date()
                }
                return true
            }
            revision = (current?.revision ?? 0) + 1
            let before = current.map { Set($0.snapshot.flags.map(\.key) + $0.snapshot.segments.map(\.key)) } ?? []
            let after = Set(snapshot.flags.map(\.key) + snapshot.segments.map(\.key))
            removed = before.subtracting(after).sorted()
            changed = after.subtracting(before).sorted()
            contentBytes = encode()
            enqueue(
                changeNotifications(
                    base: current?.snapshot, head: stored, revision: revision, branch: branch, author: author,
                    info: info))
            if configuration.redis != nil {
                publishDirectly(snapshot, json: contentBytes, revision: revision, changed: changed, removed: removed)
            }
        }
        registry.swap(ActiveSnapshot(snapshot: snapshot, revision: revision, json: contentBytes))
        lap("swap")
        let seconds = Date().timeIntervalSince(noticed)
        registry.updateState(key) {
            $0.lastSeenCommit = tip.hex
            $0.lastCheck = Date()
            $0.lastSync = Date()
            $0.lastSyncSeconds = seconds
            $0.lastError = nil
        }
        log.info(
            "applied",
            metadata: ["revision": "\(revision)", "version": "\(snapshot.version)", "changed": "\(changed)",
                       "removed": "\(removed)", "seconds": "\(String(format: "%.3f", seconds))",
                       "steps": "\(timings.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.3f", $0.value))" }.joined(separator: ", "))"])
        return true
    }

    // MARK: Redis

    /// Publishes what the outbox holds, oldest first. False when Redis or PostgreSQL failed;
    /// what was not published stays in the outbox for the next pass.
    @discardableResult
    func flushOutbox() -> Bool {
        guard configuration.postgres != nil, configuration.redis != nil else { return true }
        do {
            let store = SyncStore(connection: try databaseConnection())
            while true {
                let pending = try store.pendingOutbox(limit: 50, includeContent: false)
                if pending.isEmpty {
                    metrics.setGauge("flagstaff_outbox_pending", 0)
                    return true
                }
                for message in pending {
                    let base = "\(configuration.redisPrefix):\(message.project):\(message.environment)"
                    let content: [UInt8]
                    if let cached = justApplied, cached.project == message.project,
                        cached.environment == message.environment, cached.revision == message.revision
                    {
                        content = cached.json
                    } else {
                        content = Array(
                            (try store.snapshotContent(
                                project: message.project, environment: message.environment, revision: message.revision)
                                ?? "null").utf8)
                    }
                    do {
                        let redis = try redisConnection()
                        try redis.transaction(bytes: [
                            [Array("SET".utf8), Array((base + ":snapshot").utf8), content],
                            [Array("SET".utf8), Array((base + ":revision").utf8), Array(String(message.revision).utf8)],
                        ])
                        try redis.publish(channel: message.channel, message: message.payload)
                    } catch {
                        self.redis = nil
                        noteFailure(
                            "Redis: publishing revision \(message.revision) of \(message.project)/\(message.environment): "
                                + "\(error); it stays in the outbox",
                            key: EnvironmentKey(project: message.project, environment: message.environment))
                        if let waiting = try? store.pendingOutboxCount() {
                            metrics.setGauge("flagstaff_outbox_pending", Double(waiting))
                        }
                        return false
                    }
                    try store.markPublished(message.id)
                    logger.info(
                        "published to Redis",
                        metadata: ["project": "\(message.project)", "environment": "\(message.environment)",
                                   "revision": "\(message.revision)", "channel": "\(message.channel)"])
                }
            }
        } catch {
            dropDatabase()
            noteFailure("PostgreSQL: reading the outbox: \(error)")
            return false
        }
    }

    /// Without PostgreSQL there is no outbox: publish at once, best effort.
    private func publishDirectly(
        _ snapshot: Snapshot, json: [UInt8], revision: Int64, changed: [String], removed: [String]
    ) {
        let base = "\(configuration.redisPrefix):\(snapshot.project):\(snapshot.environment)"
        let payload = CanonicalJSON.encode(
            .object([
                "revision": .int(revision), "version": .string(snapshot.version),
                "commit": snapshot.commit.map(Value.string) ?? .null,
                "changed": .array(changed.map(Value.string)), "removed": .array(removed.map(Value.string)),
            ]))
        do {
            let redis = try redisConnection()
            try redis.transaction(bytes: [
                [Array("SET".utf8), Array((base + ":snapshot").utf8), json],
                [Array("SET".utf8), Array((base + ":revision").utf8), Array(String(revision).utf8)],
            ])
            try redis.publish(channel: base, message: payload)
        } catch {
            self.redis = nil
            noteFailure("Redis: publishing revision \(revision) of \(base): \(error)")
        }
    }

    /// Publishes a schedule step on the environment's channel, on a connection of its own
    /// (the sync's may be busy), best effort: a subscriber that misses it loses nothing, since
    /// every server follows the clock itself.
    func publishStep(_ step: ScheduleClock.Step) {
        guard let url = configuration.redis else { return }
        let channel = "\(configuration.redisPrefix):\(step.snapshot.project):\(step.snapshot.environment)"
        do {
            let redis = try RedisConnection(url: url)
            _ = try redis.publish(channel: channel, message: ScheduleStepMessage.payload(step))
            logger.info("published schedule step", metadata: ["channel": "\(channel)", "at": "\(Timestamp.formatPrecise(step.at))"])
        } catch {
            logger.error("Redis: publishing a schedule step", metadata: ["channel": "\(channel)", "error": "\(error)"])
        }
    }

    // MARK: Leadership

    /// Holds (or tries to take) the session advisory lock that elects the syncing daemon.
    private func updateLeadership() {
        do {
            if let connection = leaderConnection {
                // The lock lives as long as this session: check that the session does.
                try connection.query("SELECT 1")
                return
            }
            let connection = try PostgresConnection(url: configuration.postgres!)
            let rows = try connection.query("SELECT pg_try_advisory_lock($1)", [String(configuration.leaderLockKey)])
            if rows.first?.first == "t" {
                leaderConnection = connection
                if !isLeader {
                    isLeader = true
                    // What a previous leader handled is unknown here: look at every branch again.
                    handledTips.removeAll()
                    metrics.setGauge("flagstaff_leader", 1)
                    logger.notice("this daemon is now the leader: it syncs")
                }
            } else if isLeader || leaderConnection == nil {
                if isLeader { logger.warning("leadership lost: another daemon syncs") }
                isLeader = false
                metrics.setGauge("flagstaff_leader", 0)
                // Only the leader publishes, so only its count of the outbox is current.
                metrics.removeGauge("flagstaff_outbox_pending")
            }
        } catch {
            leaderConnection = nil
            if isLeader {
                logger.error("leadership lost with the PostgreSQL session", metadata: ["error": "\(error)"])
            }
            isLeader = false
            metrics.setGauge("flagstaff_leader", 0)
            metrics.removeGauge("flagstaff_outbox_pending")
        }
    }

    /// A follower serves what the leader applied: newer revisions from PostgreSQL.
    private func follow() -> Outcome {
        do {
            let store = SyncStore(connection: try databaseConnection())
            for stored in try store.latestRevisions() {
                let key = EnvironmentKey(project: stored.project, environment: stored.environment)
                if let served = registry.snapshot(key), served.revision >= stored.revision { continue }
                guard let content = try store.snapshotContent(
                    project: stored.project, environment: stored.environment, revision: stored.revision)
                else { continue }
                let snapshot = try Snapshot(json: try JSONParser.parse(content))
                if registry.swap(ActiveSnapshot(snapshot: snapshot, revision: stored.revision)) {
                    logger.info(
                        "following the leader",
                        metadata: ["project": "\(stored.project)", "environment": "\(stored.environment)",
                                   "revision": "\(stored.revision)", "commit": "\(snapshot.commit ?? "")"])
                }
            }
            return Outcome()
        } catch {
            dropDatabase()
            noteFailure("PostgreSQL (follower): \(error)")
            return Outcome(failed: true)
        }
    }

    // MARK: Connections

    private func openRepository() throws -> GitRepository {
        if configuration.isRemote {
            let mirror = try repository ?? GitRepository.mirror(at: configuration.mirrorPath)
            repository = mirror
            for update in try mirror.fetch(from: configuration.repository, credentials: configuration.gitCredentials)
            where update.forced {
                logger.warning("remote branch was force-pushed", metadata: ["branch": "\(update.branch)"])
            }
            return mirror
        }
        if let repository { return repository }
        let opened = try GitRepository(path: configuration.repository)
        repository = opened
        return opened
    }

    private func databaseConnection() throws -> PostgresConnection {
        if let database { return database }
        let connection = try PostgresConnection(url: configuration.postgres!)
        if !migrated {
            let migrator = try configuration.migrations.map { try Migrator(directory: $0) } ?? Migrator.builtIn
            let applied: [String]
            do {
                applied = try migrator.migrate(connection)
            } catch let error as StoreError where error.sqlState == "42501" {
                throw StoreError(
                    "migrate PostgreSQL",
                    message: "\(error.message); the daemon's role may not change the schema: run "
                        + "`flagstaff migrate --postgres URL` with the tables' owner first", sqlState: error.sqlState)
            }
            if !applied.isEmpty { logger.info("migrated PostgreSQL", metadata: ["versions": "\(applied)"]) }
            migrated = true
        }
        database = connection
        return connection
    }

    private func dropDatabase() {
        database = nil
    }

    private func redisConnection() throws -> RedisConnection {
        if let redis { return redis }
        let connection = try RedisConnection(url: configuration.redis!)
        redis = connection
        return connection
    }

    // MARK: Bookkeeping

    private func noteFailure(_ message: String, key: EnvironmentKey? = nil) {
        logger.error("sync failed", metadata: ["error": "\(message)"])
        let keys = key.map { [$0] } ?? registry.environments
        for key in keys {
            registry.updateState(key) {
                $0.lastError = message
                $0.lastErrorAt = Date()
                $0.syncErrors += 1
            }
        }
    }

    private func noteState(
        _ manifest: Manifest, _ environment: String, projects: Set<String>? = nil, _ change: (inout SyncState) -> Void
    ) {
        for project in manifest.projects where projects?.contains(project.key) ?? true {
            registry.updateState(EnvironmentKey(project: project.key, environment: environment), change)
        }
    }

    // MARK: Audit head

    /// Records the newest audit row's id and hash outside PostgreSQL: in the reference
    /// `refs/flagstaff/audit-head` of the repository (or mirror) and in the log. The anchor
    /// only moves forward, and only while the row it names is still there unchanged, so a
    /// log whose newest rows were deleted is never re-anchored at its shorter end.
    private func anchorAuditHead() {
        guard configuration.postgres != nil else { return }
        do {
            let connection = try databaseConnection()
            guard let head = try AuditLog.head(on: connection) else { return }
            // The repository sync() opened (and fetched, for a remote): the reference is local.
            guard let repository else { return }
            if anchoredHead == nil {
                anchoredHead = .some(try repository.referencedBlob(AuditHead.reference).flatMap(AuditHead.init(decoding:)))
            }
            if let anchored = anchoredHead ?? nil {
                if head == anchored { return }
                if let log = anchored.log, log != head.log {
                    // A new or restored database: its log starts elsewhere. Said loudly, since a
                    // log rewritten from its first row looks the same.
                    logger.warning(
                        """
                        the audit anchor belongs to another audit log (a new or restored database, or a log \
                        rewritten from its start); anchoring this one from now on
                        """,
                        metadata: ["anchored": "\(anchored.id):\(anchored.hash)", "anchoredLog": "\(log)",
                                   "log": "\(head.log ?? "")"])
                } else {
                    let stored = try AuditLog.storedHash(ofRow: anchored.id, on: connection)
                    guard stored == anchored.hash, head.id > anchored.id else {
                        let problem =
                            stored == nil
                            ? "the anchored audit row \(anchored.id) is gone from the log (which ends at row \(head.id))"
                            : "the anchored audit row \(anchored.id) was changed"
                        if anchorProblem != problem {
                            anchorProblem = problem
                            logger.critical(
                                "audit trail tampered with: the anchor stays where it is; run flagstaff audit verify",
                                metadata: ["problem": "\(problem)", "anchored": "\(anchored.id):\(anchored.hash)"])
                        }
                        return
                    }
                }
            }
            try repository.setReference(
                AuditHead.reference, toBlob: head.encoded, message: "flagstaff: audit head \(head.id)")
            anchoredHead = .some(head)
            anchorProblem = nil
            logger.info("audit head", metadata: ["id": "\(head.id)", "hash": "\(head.hash)"])
        } catch {
            let problem = "\(error)"
            if anchorProblem != problem {
                anchorProblem = problem
                logger.error("the audit head could not be anchored; will retry", metadata: ["error": "\(problem)"])
            }
        }
    }
}

/// A Bool shared between threads.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = false

    var value: Bool {
        get {
            lock.lock()
            defer { lock.unlock() }
            return stored
        }
        set {
            lock.lock()
            stored = newValue
            lock.unlock()
        }
    }
}

/// A tree that shows only the manifest: reading the control branch's environments must not
/// cost a compilation of every flag.
struct ManifestOnly: FlagTree {
    let base: any FlagTree

    init(_ base: any FlagTree) {
        self.base = base
    }

    func files() throws -> [String] {
        try base.files().filter { Compiler.manifestNames.contains($0) }
    }

    func read(_ path: String) throws -> [UInt8] {
        try base.read(path)
    }

    func contentID(_ path: String) -> String? {
        base.contentID(path)
    }
}
