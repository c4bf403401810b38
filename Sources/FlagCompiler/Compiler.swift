import Crypto
import Foundation
import FlagEngine
import FlagModel

/// What one compilation produced.
public struct Compilation: Sendable {
    public var manifest: Manifest?
    /// Every problem found, sorted by file, line, column and code.
    public var diagnostics: [Diagnostic]
    /// One per (project, environment), in manifest order; empty when there are errors.
    public var snapshots: [Snapshot]
    /// Golden-test outcomes (run only when everything else compiled).
    public var tests: [GoldenTestResult]
    /// The canonical JSON of each snapshot's flags and segments, in the order of `snapshots`.
    public var pieces: [SnapshotPieces] = []

    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    public func snapshot(project: String, environment: String) -> Snapshot? {
        snapshots.first { $0.project == project && $0.environment == environment }
    }

    /// The pieces of one of `snapshots` (matched by project, environment and version).
    public func pieces(of snapshot: Snapshot) -> SnapshotPieces? {
        guard
            let index = snapshots.firstIndex(where: {
                $0.project == snapshot.project && $0.environment == snapshot.environment
            }), index < pieces.count, snapshots[index].version == snapshot.version
        else { return nil }
        return pieces[index]
    }
}

public struct CompileOptions: Sendable {
    /// The time golden tests run at when a context sets no `currentTime`, and the day
    /// `expires` is checked against; nil leaves `expires` unchecked.
    public var now: Instant?
    public var commit: String?
    public var branch: String?
    /// Only these environments (all when nil).
    public var environments: Set<String>?
    public var runTests: Bool

    public init(
        now: Instant? = nil, commit: String? = nil, branch: String? = nil, environments: Set<String>? = nil,
        runTests: Bool = true
    ) {
        self.now = now
        self.commit = commit
        self.branch = branch
        self.environments = environments
        self.runTests = runTests
    }
}

/// Parsed files by content, so compiling a commit that differs from an earlier one in a
/// few files parses only those. Keyed by path and the tree's content id (a Git blob id);
/// trees that cannot name their content (a working tree) bypass it.
public final class ParseCache: @unchecked Sendable {
    enum Entry {
        case flag(FlagSource, [Diagnostic])
        case segment(SegmentSource, [Diagnostic])
    }

    private var projects: [String: ResolvedProject] = [:]
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var used: Set<String> = []
    public private(set) var hits = 0
    public private(set) var misses = 0

    public init() {}

    func lookup(_ key: String) -> Entry? {
        lock.lock()
        defer { lock.unlock() }
        if let e = entries[key] {
            hits += 1
            used.insert(key)
            return e
        }
        misses += 1
        return nil
    }

    func store(_ key: String, _ entry: Entry) {
        lock.lock()
        defer { lock.unlock() }
        entries[key] = entry
        used.insert(key)
    }


    /// The last resolution of a project in an environment, taken out while it is patched.
    func takeProject(_ key: String) -> ResolvedProject? {
        lock.lock()
        defer { lock.unlock() }
        return projects.removeValue(forKey: key)
    }

    func storeProject(_ key: String, _ state: ResolvedProject) {
        lock.lock()
        defer { lock.unlock() }
        projects[key] = state
    }

    /// Forgets entries that the compilations since the last call did not use, so a cache
    /// that follows a branch does not grow with its history.
    public func trim() {
        lock.lock()
        defer { lock.unlock() }
        // Rebuilding the tables costs as much as a compilation: only when half is stale.
        if entries.count >= 2 * used.count { entries = entries.filter { used.contains($0.key) } }
        used = []
    }

    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }
}

/// Compiles a flag repository into snapshots.
public struct Compiler: Sendable {
    public let cache: ParseCache?

    public init(cache: ParseCache? = nil) {
        self.cache = cache
    }

    public static let manifestNames = ["flagstaff.yaml", "flagstaff.yml"]

    public func compile(_ tree: any FlagTree, options: CompileOptions = CompileOptions()) -> Compilation {
        var diagnostics: [Diagnostic] = []
        let paths: [String]
        do {
            paths = try tree.files()
        } catch {
            let d = Diagnostic(.unreadableFile, "\(error)", at: SourceLocation(file: "."))
            return Compilation(manifest: nil, diagnostics: [d], snapshots: [], tests: [])
        }

        // The manifest first: it says which projects and environments exist.
        var manifest: Manifest?
        let manifestPaths = paths.filter { Self.manifestNames.contains($0) }
        if let manifestPath = manifestPaths.first {
            if manifestPaths.count > 1 {
                diagnostics.append(
                    Diagnostic(
                        .duplicateDefinition, "both flagstaff.yaml and flagstaff.yml exist",
                        at: SourceLocation(file: manifestPaths[1]), hint: "keep one"))
            }
            let (node, readProblems) = load(tree, manifestPath)
            diagnostics += readProblems
            if readProblems.isEmpty {
                var parser = SourceParser(file: manifestPath)
                manifest = parser.manifest(node)
                diagnostics += parser.diagnostics
            }
        } else {
            diagnostics.append(
                Diagnostic(
                    .missingManifest, "no flagstaff.yaml at the root of the flag repository",
                    at: SourceLocation(file: "flagstaff.yaml"),
                    hint: "run `flagstaff init` here, or point --root at the folder that holds flagstaff.yaml"))
        }
        let projectKeys = Set(manifest?.projects.map(\.key) ?? [])

        // Then every flag and segment file.
        var flags: [String: [String: FlagSource]] = [:]
        var segments: [String: [String: SegmentSource]] = [:]
        var seen: [String: String] = [:]
        for path in paths where Self.isYAML(path) && !Self.manifestNames.contains(path) {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, parts[1] == "flags" || parts[1] == "segments" else {
                diagnostics.append(
                    Diagnostic(
                        .strayFile, "'\(path)' is not a place for a YAML file", at: SourceLocation(file: path),
                        hint: "flags go in <project>/flags/<key>.yaml, segments in <project>/segments/<key>.yaml"))
                continue
            }
            let project = parts[0]
            let isFlag = parts[1] == "flags"
            let key = Self.stem(parts[2])
            if manifest != nil, !projectKeys.contains(project) {
                diagnostics.append(
                    Diagnostic(
                        .undeclaredProject, "project folder '\(project)' is not declared in the manifest",
                        at: SourceLocation(file: path),
                        hint: Suggestions.closest(to: project, in: projectKeys).map { "did you mean '\($0)'?" }
                            ?? "add it under `projects:` in flagstaff.yaml"))
                continue
            }
            if !Keys.isValid(key) {
                diagnostics.append(
                    Diagnostic(
                        .invalidKey, "'\(key)' is not a valid \(isFlag ? "flag" : "segment") key",
                        at: SourceLocation(file: path), hint: Keys.rule))
                continue
            }
            let identity = "\(project)/\(parts[1])/\(key)"
            if let first = seen[identity] {
                diagnostics.append(
                    Diagnostic(
                        .duplicateDefinition, "\(isFlag ? "flag" : "segment") '\(key)' is defined twice",
                        at: SourceLocation(file: path), hint: "it is also defined in \(first)"))
                continue
            }
            seen[identity] = path
            let cacheKey = tree.contentID(path).map { "\(path)\u{0}\($0)" }
            if let cacheKey, let hit = cache?.lookup(cacheKey) {
                switch hit {
                case .flag(let source, let problems):
                    flags[project, default: [:]][key] = source
                    diagnostics += problems
                case .segment(let source, let problems):
                    segments[project, default: [:]][key] = source
                    diagnostics += problems
                }
                continue
            }
            let (node, readProblems) = load(tree, path)
            diagnostics += readProblems
            guard readProblems.isEmpty else { continue }
            var parser = SourceParser(file: path)
            if isFlag {
                let source = parser.flag(node, key: key, project: project)
                flags[project, default: [:]][key] = source
                if let cacheKey { cache?.store(cacheKey, .flag(source, parser.diagnostics)) }
            } else {
                let source = parser.segment(node, key: key, project: project)
                segments[project, default: [:]][key] = source
                if let cacheKey { cache?.store(cacheKey, .segment(source, parser.diagnostics)) }
            }
            diagnostics += parser.diagnostics
        }

        guard let manifest else {
            return Compilation(manifest: nil, diagnostics: Self.ordered(diagnostics), snapshots: [], tests: [])
        }

        // Overlays and tests must name declared environments.
        let environmentKeys = manifest.environments.map(\.key)
        func checkEnvironment(_ env: Located<String>, _ what: String) {
            if !environmentKeys.contains(env.value) {
                diagnostics.append(
                    Diagnostic(
                        .unknownEnvironment, "\(what) names unknown environment '\(env.value)'", at: env.location,
                        hint: Suggestions.hint(for: env.value, in: environmentKeys, kind: "environments")))
            }
        }
        for project in flags.values {
            for flag in project.values {
                for (env, _) in flag.overlays { checkEnvironment(env, "an overlay") }
                for test in flag.tests { if let env = test.environment { checkEnvironment(env, "a test") } }
            }
        }
        for project in segments.values {
            for segment in project.values { for (env, _) in segment.overlays { checkEnvironment(env, "an overlay") } }
        }

        // Resolve every (project, environment).
        var snapshots: [Snapshot] = []
        var pieces: [SnapshotPieces] = []
        let manifestContentID = Self.manifestNames.lazy.compactMap { tree.contentID($0) }.first
        var contentIDs: [String: String] = [:]
        if cache != nil, manifestContentID != nil {
            for path in paths { if let id = tree.contentID(path) { contentIDs[path] = id } }
        }
        let today = options.now.map { Instant(seconds: $0.seconds - $0.seconds.modulo(86_400), nanos: 0) }
        for project in manifest.projects {
            for environment in manifest.environments {
                if let only = options.environments, !only.contains(environment.key) { continue }
                var resolver = Resolver(
                    manifest: manifest, project: project.key, environment: environment,
                    flags: flags[project.key] ?? [:], segments: segments[project.key] ?? [:])
                resolver.options.today = today
                resolver.options.now = options.now
                if let cache, let manifestID = manifestContentID {
                    resolver.cache = cache
                    resolver.contentIDs = contentIDs
                    resolver.manifestID = manifestID
                }
                let archived = Set((flags[project.key] ?? [:]).values.filter(\.archived).map(\.key))
                let resolved = resolver.resolve().served(archived: archived)
                diagnostics += resolver.diagnostics
                var snapshot = Snapshot(
                    organization: manifest.organization, project: project.key, environment: environment.key,
                    production: environment.production, flags: resolved.flags, segments: resolved.segments,
                    analytics: manifest.analytics, commit: options.commit, branch: options.branch ?? environment.branch,
                    compiledAt: options.now.map(Timestamp.format))
                snapshot.version = Self.version(
                    of: snapshot, flagJSON: resolved.flagJSON, segmentJSON: resolved.segmentJSON)
                snapshots.append(snapshot)
                pieces.append(SnapshotPieces(flagJSON: resolved.flagJSON, segmentJSON: resolved.segmentJSON))
            }
        }

        // Golden-test contexts must fit the context schema.
        if let schema = manifest.context {
            for project in flags.values {
                for flag in project.values {
                    for test in flag.tests {
                        diagnostics += ContextCheck.check(
                            test.context, schema: schema, at: test.contextLocation,
                            attributeLocations: test.attributeLocations)
                    }
                }
            }
        }

        var tests: [GoldenTestResult] = []
        if !diagnostics.contains(where: { $0.severity == .error }), options.runTests {
            // An archived flag is not served, so its golden tests have nothing to run against.
            tests = GoldenTests.run(
                flags: flags.mapValues { $0.filter { !$0.value.archived } }, snapshots: snapshots,
                now: options.now ?? Instant(seconds: 0, nanos: 0))
            for result in tests {
                if !result.passed { diagnostics.append(result.diagnostic) }
                if let later = result.laterFailureDiagnostic { diagnostics.append(later) }
                if let skipped = result.skippedDiagnostic { diagnostics.append(skipped) }
            }
        }
        let ordered = Self.ordered(diagnostics)
        let failed = ordered.contains { $0.severity == .error }
        return Compilation(
            manifest: manifest, diagnostics: ordered, snapshots: failed ? [] : snapshots, tests: tests,
            pieces: failed ? [] : pieces)
    }

    /// `sha256:` + hex digest of the canonical JSON of the snapshot's content.
    public static func version(of snapshot: Snapshot) -> String {
        hexVersion(SHA256.hash(data: CanonicalJSON.encodeBytes(snapshot.contentJSON)))
    }

    /// The same version, from the canonical JSON of each flag and segment (in key order),
    /// which a cache may already hold: the snapshot is never encoded whole.
    static func version(of snapshot: Snapshot, flagJSON: [[UInt8]], segmentJSON: [[UInt8]]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(flagJSON.reduce(4096) { $0 + $1.count + 64 } + segmentJSON.reduce(0) { $0 + $1.count + 64 })
        snapshot.writeCanonicalContent(flagJSON: flagJSON, segmentJSON: segmentJSON) { bytes.append(contentsOf: $0) }
        return hexVersion(SHA256.hash(data: bytes))
    }

    static func hexVersion(_ digest: SHA256.Digest) -> String {
        "sha256:" + digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// `.yaml` and `.yml` in any case: `Checkout.YAML` is a mistake to report, not a file to skip.
    static func isYAML(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".yaml") || lower.hasSuffix(".yml")
    }

    /// A file name without its `.yaml` or `.yml` extension: the key it defines.
    public static func stemOf(_ name: String) -> String { stem(name) }

    static func stem(_ name: String) -> String {
        let lower = name.lowercased()
        if lower.hasSuffix(".yaml") { return String(name.dropLast(5)) }
        if lower.hasSuffix(".yml") { return String(name.dropLast(4)) }
        return name
    }

    /// Stable order, duplicates removed (a base-field problem shows once, not once per environment).
    static func ordered(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        var seen = Set<Diagnostic>()
        return diagnostics.filter { seen.insert($0).inserted }.sorted {
            if $0.location != $1.location { return $0.location < $1.location }
            if $0.code != $1.code { return $0.code.rawValue < $1.code.rawValue }
            return $0.message < $1.message
        }
    }

    private func load(_ tree: any FlagTree, _ path: String) -> (YAMLNode?, [Diagnostic]) {
        let bytes: [UInt8]
        do {
            bytes = try tree.read(path)
        } catch {
            return (nil, [Diagnostic(.unreadableFile, "\(error)", at: SourceLocation(file: path))])
        }
        do {
            return (try YAMLReader.parse(bytes, file: path), [])
        } catch {
            return (nil, [error])
        }
    }
}

extension Int64 {
    /// Modulo that is never negative.
    fileprivate func modulo(_ m: Int64) -> Int64 {
        let r = self % m
        return r < 0 ? r + m : r
    }
}
