// The OFREP request path without HTTP: a request body's bytes → the context → a single answer and
// the bulk answer, for the snapshots of the demo repository (flags/) and examples/typed-context,
// compiled once. Every answer must be valid JSON. Every flag also records events (as `events: true`
// with `analytics.keep` naming common attributes would), and the queued events are taken as the
// writer takes them: their kept context must be JSON too.
import FlagCompiler
import FlagEngine
import FlagModel
import FlagServer
import Foundation

/// The repository root, found from this file: Fuzz/Sources/FuzzOFREP/FuzzOFREP.swift.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path

let now = Instant(seconds: 1_767_225_600)

let served: [ActiveSnapshot] = {
    var served: [ActiveSnapshot] = []
    for repository in ["flags", "examples/typed-context"] {
        let tree = DirectoryTree(root: root + "/" + repository)
        let compilation = Compiler().compile(tree, options: CompileOptions(now: now, runTests: false))
        guard !compilation.hasErrors else { fatalError("\(repository) does not compile: \(compilation.errors)") }
        served += compilation.snapshots.filter { $0.environment == "production" }.map { snapshot in
            var recording = snapshot
            recording.flags = snapshot.flags.map { flag in
                var flag = flag
                flag.events = 1
                return flag
            }
            recording.analytics = AnalyticsPolicy(keep: ["plan", "email", "country", "tags"], targetingKey: .hashed)
            return ActiveSnapshot(snapshot: recording, revision: 1)
        }
    }
    return served
}()

func requireJSON(_ raw: UnsafeRawBufferPointer, _ what: String) {
    do {
        _ = try JSONParser.parse(bytes: raw.bindMemory(to: UInt8.self))
    } catch {
        fatalError("the \(what) is not JSON (\(error)): \(String(decoding: raw, as: UTF8.self))")
    }
}

let events = EventQueue(capacity: 4_096)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = UnsafeRawBufferPointer(start: data, count: size)
    guard case .success(let context) = FlagServer.context(fromBody: body) else { return 0 }
    for active in served {
        let keys = active.snapshot.flags.map(\.key)
        // One flag, chosen by the body's size, or one the snapshot does not have.
        let key = size % (keys.count + 1) < keys.count ? keys[size % (keys.count + 1)] : "no-such-flag"
        FlagServer.answer(active, key: key, context: context, now: now, events: events).body.withUnsafeReadableBytes {
            requireJSON($0, "answer for \(key)")
        }
        FlagServer.bulkBody(active, context: context, now: now, events: events).withUnsafeReadableBytes {
            requireJSON($0, "bulk answer")
        }
    }
    for row in events.take().evaluations {
        if let kept = row.context { Array(kept.utf8).withUnsafeBytes { requireJSON($0, "kept context") } }
        if let key = row.targetingKey, key.utf8.count != 64 { fatalError("a targeting key not hashed: \(key)") }
    }
    return 0
}
