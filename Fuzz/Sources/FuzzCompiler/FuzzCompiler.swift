// The whole compiler on one flag file: YAML, the source checks, resolution against a segment,
// golden tests, the snapshot; then the compiled flag is evaluated for a few contexts.
import FlagCompiler
import FlagEngine
import FlagModel

let manifest = """
    version: 1
    organization: acme
    projects: { shop: {} }
    environments:
      production: { branch: main, production: true }
      staging: { branch: staging }
    """

let segment = """
    when:
      - { attribute: email, op: ends_with, values: ["@acme.com"] }
    """

let now = Instant(seconds: 1_767_225_600)

let contexts: [[String: Value]] = [
    [:],
    ["targetingKey": "user-1"],
    [
        "targetingKey": "user-42", "email": "kim@acme.com", "plan": "pro", "country": "NZ", "age": 30,
        "app_version": "2.1.0", "ip": "10.1.2.3", "signup": "2026-01-01T00:00:00Z", "beta": true,
        "tags": ["a", "b"], "ratio": 0.5,
    ],
    ["targetingKey": "", "email": 7, "plan": ["x"], "age": "old", "app_version": "x.y", "ip": "::1", "beta": "yes"],
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var tree = MemoryTree(["flagstaff.yaml": manifest, "shop/segments/staff.yaml": segment])
    tree.contents["shop/flags/fuzz.yaml"] = Array(UnsafeBufferPointer(start: data, count: size))
    let compilation = Compiler().compile(tree, options: CompileOptions(now: now, runTests: true))
    for snapshot in compilation.snapshots {
        let evaluator = Evaluator(snapshot: snapshot)
        for context in contexts {
            let prepared = evaluator.prepare(context, now: now)
            _ = CanonicalJSON.encodeBytes(evaluator.evaluate("fuzz", context: prepared).ofrepJSON)
        }
    }
    return 0
}
