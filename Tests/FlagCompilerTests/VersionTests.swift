import FlagCompiler
import FlagEngine
import FlagModel
import Testing

private let manifest = """
    version: 1
    organization: acme
    projects: { shop: { name: Shop } }
    environments:
      production: { branch: main, production: true }
      staging: { branch: staging }
    """

private let checkout = """
    # The new checkout.
    name: New checkout
    description: Rebuilt checkout
    owner: team-payments
    tags: [checkout, payments]
    rules:
      - name: staff
        when:
          - attribute: email
            op: ends_with
            values: ["@acme.com"]
            case_insensitive: true
        serve: on
      - name: quarter of pro users
        when: [ { attribute: plan, op: in, values: [pro] } ]
        rollout: 25
        serve: on
      - name: experiment
        serve:
          split: { off: 50, on: 50 }
          by: [userId]
    default: off
    environments:
      staging: { default: on }
    """

/// The same flag, written differently: flow style, other key order, other quoting, comments.
private let checkoutReformatted = """
    environments: {staging: {default: "on"}}
    default: 'off'
    rules: [
      {serve: "on", name: staff, when: [{values: ['@acme.com'], op: ends_with, case_insensitive: true, attribute: email}]},   # staff first
      {name: "quarter of pro users", serve: on, rollout: 25, when: [{op: in, attribute: plan, values: ["pro"]}]},
      {name: experiment, serve: {by: [userId], split: {off: 50, on: 50}}}
    ]
    tags: [checkout, payments]
    owner: "team-payments"
    description: "Rebuilt checkout"
    name: New checkout
    """

private func versions(_ flagYAML: String, manifest m: String = manifest) -> [String: String] {
    let compilation = Compiler().compile(
        MemoryTree(["flagstaff.yaml": m, "shop/flags/checkout.yaml": flagYAML]), options: CompileOptions())
    #expect(compilation.errors.isEmpty, "\(compilation.errors)")
    var out: [String: String] = [:]
    for s in compilation.snapshots { out[s.environment] = s.version }
    return out
}

@Suite("Snapshot versions (SPEC §7)")
struct VersionTests {
    @Test func versionIsSHA256OfTheCanonicalContent() {
        let v = versions(checkout)
        #expect(v.count == 2)
        for version in v.values {
            #expect(version.hasPrefix("sha256:"))
            #expect(version.count == 7 + 64)
        }
        #expect(v["production"] != v["staging"], "overlays make the environments differ")
    }

    @Test func reformattingLeavesTheVersionUnchanged() {
        #expect(versions(checkout) == versions(checkoutReformatted))
    }

    @Test func commitBranchAndTimeDoNotMoveTheVersion() {
        let tree = MemoryTree(["flagstaff.yaml": manifest, "shop/flags/checkout.yaml": checkout])
        let a = Compiler().compile(tree, options: CompileOptions(now: Instant(seconds: 1), commit: "aaa", branch: "x"))
        let b = Compiler().compile(tree, options: CompileOptions(now: Instant(seconds: 99), commit: "bbb"))
        #expect(a.snapshots.map(\.version) == b.snapshots.map(\.version))
        #expect(a.snapshots[0].commit == "aaa")
        #expect(a.snapshots[0].json["commit"] == "aaa")
    }

    @Test(arguments: [
        ("rollout", "rollout: 25", "rollout: 26"),
        ("default", "default: off\n", "default: on\n"),
        ("split weight", "split: { off: 50, on: 50 }", "split: { off: 40, on: 60 }"),
        ("split order", "split: { off: 50, on: 50 }", "split: { on: 50, off: 50 }"),
        ("rule name", "name: staff", "name: employees"),
        ("operator value", "\"@acme.com\"", "\"@acme.org\""),
        ("case sensitivity", "case_insensitive: true", "case_insensitive: false"),
        ("bucketing", "by: [userId]", "by: [sessionId]"),
        ("overlay", "staging: { default: on }", "staging: { default: off }"),
        ("description", "Rebuilt checkout", "Rebuilt checkout flow"),
        ("tag", "tags: [checkout, payments]", "tags: [checkout]"),
    ])
    func anySemanticChangeMovesTheVersion(change: String, from: String, to: String) {
        #expect(checkout.contains(from), "fixture must contain \(from)")
        let changed = checkout.replacingOccurrences(of: from, with: to)
        let before = versions(checkout)
        let after = versions(changed)
        #expect(after["production"] != before["production"] || after["staging"] != before["staging"], "\(change)")
    }

    /// Snapshots compiled before `events` and `analytics` existed keep their versions: the
    /// fields are written only when set, and their defaults written out change nothing.
    @Test func defaultEventsAndPolicyLeaveTheVersionWhereItWas() {
        let before = versions(checkout)
        #expect(versions(checkout + "\nevents: false\n") == before)
        #expect(versions(checkout, manifest: manifest + "\nanalytics: {}\n") == before)
        #expect(versions(checkout, manifest: manifest + "\nanalytics: { keep: [], targeting_key: hashed }\n") == before)
    }

    @Test func eventsAndAPolicyMoveTheVersion() {
        let before = versions(checkout)
        let sampled = versions(checkout + "\nevents: 0.5\n")
        #expect(sampled["production"] != before["production"] && sampled["staging"] != before["staging"])
        #expect(versions(checkout + "\nevents: 0.25\n")["production"] != sampled["production"])
        #expect(versions(checkout + "\nevents: true\n") == versions(checkout + "\nevents: 1\n"))
        for policy in ["{ keep: [plan] }", "{ targeting_key: plain }"] {
            let v = versions(checkout, manifest: manifest + "\nanalytics: \(policy)\n")
            #expect(v["production"] != before["production"] && v["staging"] != before["staging"], "\(policy)")
        }
    }

    @Test func snapshotJSONWithEventsAndAPolicyRoundTrips() throws {
        let compilation = Compiler().compile(
            MemoryTree([
                "flagstaff.yaml": manifest + "\nanalytics: { keep: [plan, country], targeting_key: plain }\n",
                "shop/flags/checkout.yaml": checkout + "\nevents: 0.1\n",
            ]), options: CompileOptions())
        #expect(compilation.errors.isEmpty, "\(compilation.errors)")
        #expect(compilation.snapshots.count == 2)
        for snapshot in compilation.snapshots {
            let back = try Snapshot(json: try JSONParser.parse(CanonicalJSON.encode(snapshot.json)))
            #expect(back == snapshot)
            #expect(back.analytics == AnalyticsPolicy(keep: ["country", "plan"], targetingKey: .plain))
            #expect(back.flag("checkout")?.events == 0.1)
            #expect(Compiler.version(of: back) == snapshot.version)
            let pieces = try #require(compilation.pieces(of: snapshot))
            #expect(snapshot.canonicalJSON(pieces: pieces) == CanonicalJSON.encodeBytes(snapshot.json))
        }
    }

    @Test func snapshotJSONRoundTrips() throws {
        let compilation = Compiler().compile(
            MemoryTree(["flagstaff.yaml": manifest, "shop/flags/checkout.yaml": checkout]), options: CompileOptions())
        for snapshot in compilation.snapshots {
            let text = CanonicalJSON.encode(snapshot.json)
            let back = try Snapshot(json: try JSONParser.parse(text))
            #expect(back == snapshot)
            #expect(Compiler.version(of: back) == snapshot.version)
        }
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        var out = ""
        var rest = self[...]
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

@Suite("Snapshot JSON from the compiler's pieces")
struct SnapshotPiecesTests {
    @Test func theWholeSnapshotPutTogetherFromPiecesIsItsCanonicalJSON() throws {
        let files = [
            "flagstaff.yaml": manifest,
            "shop/flags/checkout.yaml": checkout,
            "shop/flags/banner.yaml": """
                type: string
                variants: { plain: "tab\\there", fancy: "quote \\" back \\\\ é 😀" }
                off_variant: plain
                default: fancy
                rules: [ { when: [ { segment: "beta-testers" } ], serve: plain } ]
                """,
            "shop/segments/beta-testers.yaml": """
                description: "Early \\"beta\\" users"
                include: [u-1, "ü-2"]
                """,
        ]
        for (commit, branch) in [(String?.none, String?.none), ("0123abcd", "main")] {
            var options = CompileOptions(now: Instant(seconds: 1_767_225_600))
            options.commit = commit
            options.branch = branch
            let compilation = Compiler().compile(MemoryTree(files), options: options)
            try #require(compilation.errors.isEmpty, "\(compilation.errors)")
            #expect(compilation.pieces.count == compilation.snapshots.count)
            for snapshot in compilation.snapshots {
                let pieces = try #require(compilation.pieces(of: snapshot))
                #expect(snapshot.segments.count == 1)
                #expect(snapshot.canonicalJSON(pieces: pieces) == CanonicalJSON.encodeBytes(snapshot.json))
                var moved = snapshot
                moved.commit = "fedcba98"
                moved.branch = nil
                #expect(moved.canonicalJSON(pieces: pieces) == CanonicalJSON.encodeBytes(moved.json))
            }
        }
    }
}
