import FlagCompiler
import FlagDiff
import FlagEngine
import FlagModel
import Testing

/// 2026-01-01T00:00:00Z.
let testNow = Instant(seconds: 1_767_225_600)

/// Compiles a one-project repository (`shop`, environments production and staging) held in
/// memory, `manifestTail` appended to its manifest; the compilation must succeed.
func compile(
    flags: [String: String], segments: [String: String] = [:], manifestTail: String = "",
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws -> [String: Snapshot] {
    var files = [
        "flagstaff.yaml": """
        version: 1
        organization: acme
        projects: { shop: {} }
        environments:
          production: { branch: main, production: true }
          staging: { branch: staging }
        """ + manifestTail
    ]
    for (key, yaml) in flags { files["shop/flags/\(key).yaml"] = yaml }
    for (key, yaml) in segments { files["shop/segments/\(key).yaml"] = yaml }
    let compilation = Compiler().compile(MemoryTree(files), options: CompileOptions(now: testNow))
    #expect(compilation.errors.isEmpty, "\(compilation.errors)", sourceLocation: sourceLocation)
    var out: [String: Snapshot] = [:]
    for s in compilation.snapshots { out[s.environment] = s }
    try #require(out.count == 2, sourceLocation: sourceLocation)
    return out
}

/// The diff of one environment between two repositories.
func diff(
    base: [String: String], head: [String: String], baseSegments: [String: String] = [:],
    headSegments: [String: String] = [:], baseManifestTail: String = "", headManifestTail: String = "",
    environment: String = "production", now: Instant? = nil, sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws -> SnapshotDiff {
    let b = try compile(
        flags: base, segments: baseSegments, manifestTail: baseManifestTail, sourceLocation: sourceLocation)
    let h = try compile(
        flags: head, segments: headSegments, manifestTail: headManifestTail, sourceLocation: sourceLocation)
    return SnapshotDiff(base: b[environment], head: h[environment], now: now)
}

/// The one changed flag of a diff.
func onlyFlag(_ d: SnapshotDiff, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> FlagChange {
    try #require(d.flags.count == 1, "\(d.flags)", sourceLocation: sourceLocation)
    return d.flags[0]
}

/// The summaries of the one changed flag of a diff.
func summaries(_ d: SnapshotDiff, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> [String] {
    try onlyFlag(d, sourceLocation: sourceLocation).fields.map(\.summary)
}

/// A fixed generator, for samples that must be the same on every run.
typealias SeededGenerator = SplitMix64
