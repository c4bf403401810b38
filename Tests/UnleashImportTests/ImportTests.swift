import FlagCompiler
import FlagEngine
import FlagModel
import Testing
import UnleashImport

// MARK: - Flags Unleash cannot evaluate

struct DeadFlagTests {
    struct Case: Sendable, CustomStringConvertible {
        var feature: String
        var field: String
        var mention: String
        var description: String { feature }
    }

    static let cases: [Case] = [
        Case(
            feature: constrained("unknown-op", #"{"contextName": "plan", "operator": "IS_ONE_OF", "values": ["a"]}"#),
            field: "strategies[0].constraints[0].operator", mention: "unknown operator \"IS_ONE_OF\""),
        Case(
            feature: constrained("contains-nothing", #"{"contextName": "email", "operator": "STR_CONTAINS", "values": []}"#),
            field: "strategies[0].constraints[0].operator", mention: "STR_CONTAINS on 'email' has no values"),
        Case(
            feature: constrained("cidr-nothing", #"{"contextName": "remoteAddress", "operator": "IN_CIDR"}"#),
            field: "strategies[0].constraints[0].operator", mention: "IN_CIDR on 'remoteAddress' has no values"),
        Case(
            feature: constrained("num-word", #"{"contextName": "age", "operator": "NUM_GT", "value": "eighteen"}"#),
            field: "strategies[0].constraints[0].operator", mention: "neither a date, a version nor a number"),
        Case(
            feature: constrained("num-none", #"{"contextName": "age", "operator": "NUM_GT"}"#),
            field: "strategies[0].constraints[0].operator", mention: "NUM_GT on 'age' has no value"),
        Case(
            feature: constrained(
                "date-day", #"{"contextName": "currentTime", "operator": "DATE_AFTER", "value": "2026-01-01"}"#),
            field: "strategies[0].constraints[0].operator", mention: "neither a date"),
        Case(
            feature: constrained(
                "date-micros",
                #"{"contextName": "currentTime", "operator": "DATE_AFTER", "value": "2026-01-01T00:00:00.000001Z"}"#),
            field: "strategies[0].constraints[0].operator", mention: "neither a date"),
        Case(
            feature: #"{"name": "no-segment", "enabled": true, "strategies": [{"name": "default", "segments": [7]}]}"#,
            field: "strategies[0].segments[0]", mention: "segment 7 does not exist"),
        Case(
            feature: """
                {"name": "too-much", "enabled": true, "strategies": [
                  {"name": "default", "constraints": [{"contextName": "a", "operator": "IN", "values": ["x"]}]},
                  {"name": "flexibleRollout", "parameters": {"rollout": "150", "stickiness": "default"}}]}
                """,
            field: "strategies[1].parameters.rollout", mention: "rollout 150% is over 100"),
        Case(
            feature: """
                {"name": "Too.Much.Variants", "enabled": true, "strategies": [
                  {"name": "gradualRolloutUserId", "parameters": {"percentage": "101", "groupId": "g"}}],
                 "variants": [{"name": "a", "weight": 1}]}
                """,
            field: "strategies[0].parameters.percentage", mention: "rollout 101% is over 100"),
    ]

    @Test(arguments: cases)
    func isImportedDisabledWithAWarningNamingFeatureAndField(_ c: Case) throws {
        let imported = try Imported(payload(c.feature))
        let name = try #require(imported.result.keyMap.keys.first)
        let warning = try #require(imported.result.warnings.first { $0.feature == name }, "\(imported.result.warnings)")
        #expect(warning.field == c.field)
        #expect(warning.message.contains(c.mention), "\(warning.message)")
        #expect(warning.message.contains("imported disabled"))
        #expect(imported.file(name).contains("\nenabled: false\n"))
        #expect(imported.file(name).contains("# Imported disabled: Unleash cannot evaluate this flag"))
        #expect(imported.flag(name)?.enabled == false)
        #expect(!imported.isEnabled(name, ["userId": "u1", "properties": ["plan": "a", "a": "x"]]))
        if name == "Too.Much.Variants" {
            #expect(imported.value(name, ["userId": "u1"]) == ["name": "disabled", "enabled": false, "feature_enabled": false])
        }
    }

    @Test func aDeadSegmentDisablesEveryFlagThatUsesIt() throws {
        let imported = try Imported(
            payload(
                #"{"name": "uses", "enabled": true, "strategies": [{"name": "default", "segments": [1]}]}"#,
                #"{"name": "other", "enabled": true, "strategies": [{"name": "default"}]}"#,
                segments: #"[{"id": 1, "constraints": [{"contextName": "x", "operator": "NOPE", "values": ["1"]}]}]"#))
        #expect(imported.flag("uses")?.enabled == false)
        #expect(imported.isEnabled("other"))
        let warning = try #require(imported.result.warnings.first { $0.feature == "uses" })
        #expect(warning.field == "strategies[0].segments[0]")
        #expect(warning.message.contains("segment 1 constraints[0]: unknown operator \"NOPE\""))
        #expect(imported.result.files["app/segments/segment-1.yaml"] == nil)
    }

    @Test func unsatisfiableDependenciesDisableTheChild() throws {
        let imported = try Imported(
            payload(
                #"{"name": "orphan", "enabled": true, "strategies": [], "dependencies": [{"feature": "gone"}]}"#))
        #expect(imported.flag("orphan")?.enabled == false)
        let warning = try #require(imported.result.warnings.first)
        #expect(warning.feature == "orphan")
        #expect(warning.field == "dependencies[0]")
        #expect(warning.message.contains("\"gone\" does not exist"))
    }
}

// MARK: - Keys

struct KeyMappingTests {
    /// SEMANTICS.md §5, example 10: murmur3("Feature.UTF-8.Hellø_Wørld:42") % 100 + 1 = 8.
    @Test func aNameThatIsNotAKeyKeepsItsBucketsUnderTheOriginalName() throws {
        let feature = { (name: String, rollout: Int) in
            """
            {"name": "\(name)", "enabled": true,
             "strategies": [{"name": "flexibleRollout", "parameters": {"rollout": "\(rollout)", "stickiness": "userId"}}]}
            """
        }
        let imported = try Imported(
            payload(feature("Feature.UTF-8.Hellø_Wørld", 8), feature("Feature.UTF-8.Hellø_Wørld.7", 7)))
        let key = try #require(imported.result.keyMap["Feature.UTF-8.Hellø_Wørld"])
        #expect(key == "feature.utf-8.hell-_w-rld")
        #expect(Keys.isValid(key))
        #expect(imported.flag("Feature.UTF-8.Hellø_Wørld")?.rules.first?.rollout?.bucketing.group == "Feature.UTF-8.Hellø_Wørld")
        #expect(imported.isEnabled("Feature.UTF-8.Hellø_Wørld", ["userId": "42"]))
        #expect(!imported.isEnabled("Feature.UTF-8.Hellø_Wørld.7", ["userId": "42"]))
        #expect(imported.file("Feature.UTF-8.Hellø_Wørld").contains("group: \"Feature.UTF-8.Hellø_Wørld\" }"))
        #expect(imported.flag("Feature.UTF-8.Hellø_Wørld")?.name == "Feature.UTF-8.Hellø_Wørld")
    }

    @Test func collidingKeysAreMadeUniqueAndAValidNameKeepsItsKey() throws {
        let imported = try Imported(
            payload(
                #"{"name": "New Checkout", "enabled": true}"#, #"{"name": "new-checkout", "enabled": false}"#,
                #"{"name": "NEW.checkout?", "enabled": true}"#, #"{"name": "😊", "enabled": true}"#))
        #expect(
            imported.result.keyMap == [
                "new-checkout": "new-checkout", "New Checkout": "new-checkout-2", "NEW.checkout?": "new.checkout-",
                "😊": "flag",
            ])
        #expect(imported.isEnabled("New Checkout"))
        #expect(!imported.isEnabled("new-checkout"))
    }

    @Test func variantNamesAreMadeSafeAndUniqueWhileTheValueKeepsTheRealName() throws {
        let imported = try Imported(
            payload(
                """
                {"name": "theme", "enabled": true, "strategies": [], "variants": [
                  {"name": "on", "weight": 0, "overrides": [{"contextName": "userId", "values": ["a"]}]},
                  {"name": "dark mode", "weight": 0, "overrides": [{"contextName": "userId", "values": ["b"]}]},
                  {"name": "dark_mode", "weight": 1},
                  {"name": "-", "weight": 0, "overrides": [{"contextName": "userId", "values": ["c"]}]}]}
                """))
        let variants = try #require(imported.flag("theme")?.variants)
        #expect(Set(variants.keys) == ["off", "on-2", "dark-mode", "dark_mode", "variant"])
        #expect(imported.variantName("theme", ["userId": "a"]) == "on")
        #expect(imported.value("theme", ["userId": "a"])?["enabled"] == true)
        #expect(imported.variantName("theme", ["userId": "b"]) == "dark mode")
        #expect(imported.variantName("theme", ["userId": "c"]) == "-")
        #expect(imported.variantName("theme", ["userId": "z"]) == "dark_mode")
    }
}

// MARK: - The generated repository

struct RepositoryTests {
    static let features = payload(
        """
        {"name": "Checkout.V2", "description": "New checkout: one page", "enabled": true, "project": "shop",
         "type": "release",
         "strategies": [
           {"name": "flexibleRollout", "parameters": {"rollout": "25", "stickiness": "default", "groupId": "Checkout.V2"},
            "constraints": [{"contextName": "country", "operator": "IN", "values": ["NO", "SE"], "caseInsensitive": true},
                            {"contextName": "appVersion", "operator": "SEMVER_GTE", "value": "2.1.0"}],
            "segments": [3]},
           {"name": "userWithId", "parameters": {"userIds": "17, 42"}},
           {"name": "myCustomStrategy", "parameters": {}}]}
        """,
        """
        {"name": "banner", "enabled": true, "strategies": [{"name": "default"}],
         "variants": [{"name": "blue", "weight": 500, "stickiness": "default", "payload": {"type": "json", "value": "{\\"color\\": \\"#00f\\"}"}},
                      {"name": "red", "weight": 500, "overrides": [{"contextName": "userId", "values": ["7"]}]}]}
        """,
        segments: #"[{"id": 3, "name": "Beta testers", "constraints": [{"contextName": "beta", "operator": "IN", "values": ["true"]}]}]"#)

    @Test func compilesWithoutAnyDiagnosticAndReadsWell() throws {
        let imported = try Imported(Self.features, options: .init(project: "shop", source: "unleash-prod.json"))
        #expect(imported.compilation.diagnostics.isEmpty)
        #expect(
            imported.result.files["shop/flags/checkout.v2.yaml"] == """
                # Imported from Unleash (unleash-prod.json): feature "Checkout.V2"
                # The name is not a valid flag key, so the key is 'checkout.v2'. Rollouts and splits keep the Unleash
                #   name as their group: every user keeps their bucket.
                # Unleash project "shop", type "release".
                name: Checkout.V2
                description: "New checkout: one page"
                rules:
                  - name: strategy 1 (flexibleRollout)
                    when:
                      - { attribute: country, op: in, values: [NO, SE] }
                      - { attribute: appVersion, op: semver_gte, value: 2.1.0 }
                      - { segment: segment-3 }   # Beta testers
                    rollout: { percentage: 25, by: [userId, sessionId, random], group: Checkout.V2 }
                    serve: on
                  - name: strategy 2 (userWithId)
                    when:
                      - { attribute: userId, op: in, values: ["17", "42"] }
                    serve: on
                  # strategy 3 (myCustomStrategy) is not imported: it is a custom strategy, which Unleash runs only with
                  #   code the application registers, and never matches without that code; write it as conditions by
                  #   hand.

                """)
        #expect(
            imported.result.files["shop/segments/segment-3.yaml"] == """
                # Imported from Unleash (unleash-prod.json): segment 3 "Beta testers"
                name: Beta testers
                when:
                  - { attribute: beta, op: in, values: ["true"] }

                """)
        #expect(
            imported.result.files["flagstaff.yaml"] == """
                # Imported from Unleash (unleash-prod.json)
                version: 1
                organization: imported
                projects:
                  shop: {}
                environments:
                  production: { branch: main, production: true }

                """)
        let banner = try #require(imported.result.files["shop/flags/banner.yaml"])
        #expect(banner.contains("""
              blue:
                name: blue
                enabled: true
                feature_enabled: true
                payload: { type: json, value: "{\\"color\\": \\"#00f\\"}" }
            """))
        #expect(banner.contains("""
              - name: strategy 1 (default), userId override for red
                when:
                  - { attribute: userId, op: in, values: ["7"] }
                serve: red
            """))
        let warning = try #require(imported.result.warnings.first)
        #expect(warning.feature == "Checkout.V2")
        #expect(warning.field == "strategies[2]")
    }

    @Test func theImportedFlagsBehaveAsInUnleash() throws {
        let imported = try Imported(Self.features, options: .init(project: "shop"))
        // `IN` ignores caseInsensitive in Unleash.
        let context: [String: Value] = [
            "userId": "u-1", "properties": ["country": "NO", "appVersion": "2.1.0", "beta": "true"],
        ]
        #expect(!imported.isEnabled("Checkout.V2", ["userId": "u-1", "properties": ["country": "no", "beta": "true"]]))
        #expect(imported.isEnabled("Checkout.V2", ["userId": "42"]))
        #expect(!imported.isEnabled("Checkout.V2", ["userId": "43"]))
        let rolledOut = (0..<200).filter { i in
            var c = context
            c["userId"] = .string("u-\(i)")
            return imported.isEnabled("Checkout.V2", c)
        }.count
        #expect(rolledOut > 20 && rolledOut < 80, "\(rolledOut) of 200 in a 25% rollout")
        #expect(imported.value("banner", ["userId": "7"]) == ["name": "red", "enabled": true, "feature_enabled": true])
        #expect(
            imported.value("banner", ["userId": "8"])
                == [
                    "name": "blue", "enabled": true, "feature_enabled": true,
                    "payload": ["type": "json", "value": "{\"color\": \"#00f\"}"],
                ]
                || imported.variantName("banner", ["userId": "8"]) == "red")
    }

    /// Names, descriptions and values that YAML would mistype or misread if written plain.
    @Test(arguments: [
        "true", "null", "~", "123", "0x1F", "1e3", ".inf", "-", "- item", "#hash", "a #b", "key: value", "a:b",
        "\"quoted\"", "back\\slash", "line\nbreak", "tab\there", "nel\u{85}x", "ls\u{2028}x", "bom\u{FEFF}x",
        " leading", "trailing ", "[list]", "{map}", "*alias", "&anchor", "!tag", "%directive", "@at", "`tick",
        "'single'", "|", ">", "?", ",", "2026-01-01", "yes", "on", "é", "😊", "",
    ])
    func anyStringReadsBackUnchanged(_ text: String) throws {
        let escaped = String(decoding: CanonicalJSON.encodeBytes(.string(text)), as: UTF8.self)
        let imported = try Imported(
            payload(
                """
                {"name": \(escaped), "description": \(escaped), "enabled": true,
                 "strategies": [{"name": "flexibleRollout", "parameters": {"rollout": "50", "stickiness": \(escaped),
                                 "groupId": \(escaped)},
                   "constraints": [{"contextName": \(escaped), "operator": "IN", "values": [\(escaped)]}]}],
                 "variants": [{"name": \(escaped), "weight": 1, "payload": {"type": "string", "value": \(escaped)}},
                              {"name": "other", "weight": 1}]}
                """))
        let flag = try #require(imported.flag(text))
        #expect(flag.name == text)
        #expect(flag.description == (text.isEmpty ? nil : text))
        let rule = try #require(flag.rules.first)
        #expect(rule.rollout?.bucketing.group == text)
        #expect(rule.rollout?.bucketing.by == [text])
        #expect(rule.when == [.attribute(AttributeCondition(attribute: text, op: .in, values: [text]))])
        let value = try #require(flag.variants.values.first { $0["payload"] != nil })
        #expect(value["name"] == .string(text))
        #expect(value["payload"]?["value"] == .string(text))
        if case .split(let split) = rule.serve { #expect(split.bucketing.group == text) }
    }
}

// MARK: - Semantics

struct SemanticsTests {
    /// Unleash picks a comparison by the value's shape, not by the operator's name.
    @Test func theValuesShapeChoosesTheComparison() throws {
        let imported = try Imported(
            payload(
                constrained("num-as-semver", #"{"contextName": "v", "operator": "NUM_EQ", "value": "1.2.3"}"#),
                constrained("semver-as-num", #"{"contextName": "v", "operator": "SEMVER_GT", "value": "1.5"}"#),
                constrained("num-gte-date", #"{"contextName": "t", "operator": "NUM_GTE", "value": "2026-01-01T00:00:00.000Z"}"#),
                constrained("num-lte-date", #"{"contextName": "t", "operator": "NUM_LTE", "value": "2026-01-01T00:00:00Z"}"#),
                constrained(
                    "num-eq-date",
                    #"{"contextName": "t", "operator": "NUM_EQ", "value": "2026-01-01T01:00:00+01:00", "inverted": true}"#),
                constrained("plus-number", #"{"contextName": "n", "operator": "NUM_LT", "value": "+12."}"#)))
        func on(_ feature: String, _ properties: [String: Value]) -> Bool {
            imported.isEnabled(feature, ["properties": .object(properties)])
        }
        #expect(on("num-as-semver", ["v": "1.2.3"]))
        #expect(!on("num-as-semver", ["v": "1.2.30"]))
        #expect(on("semver-as-num", ["v": "1.6"]))
        #expect(!on("semver-as-num", ["v": "1.6.0"]))
        #expect(on("num-gte-date", ["t": "2026-01-01T00:00:00Z"]))
        #expect(on("num-gte-date", ["t": "2026-01-01T00:00:00.000000001Z"]))
        #expect(!on("num-gte-date", ["t": "2025-12-31T23:59:59.999999999Z"]))
        #expect(on("num-lte-date", ["t": "2026-01-01T00:00:00Z"]))
        #expect(!on("num-lte-date", ["t": "2026-01-01T00:00:00.000000001Z"]))
        #expect(!on("num-eq-date", ["t": "2026-01-01T00:00:00Z"]))
        #expect(on("num-eq-date", ["t": "2026-01-01T00:00:01Z"]))
        #expect(on("num-eq-date", [:]))
        #expect(on("plus-number", ["n": "11.5"]))
        #expect(!on("plus-number", ["n": "12"]))
    }

    @Test func constantConstraintsAreInvertedAsUnleashInvertsThem() throws {
        let imported = try Imported(
            payload(
                constrained("in-empty-inverted", #"{"contextName": "a", "operator": "IN", "values": [], "inverted": true}"#),
                constrained("not-in-empty-inverted", #"{"contextName": "a", "operator": "NOT_IN", "inverted": true}"#),
                constrained("v-semver-inverted", #"{"contextName": "a", "operator": "SEMVER_LT", "value": "v1.0.0", "inverted": true}"#),
                constrained("bad-regex-inverted", #"{"contextName": "a", "operator": "REGEX", "value": "(?<=x)y", "inverted": true}"#),
                constrained("bad-cidr-inverted", #"{"contextName": "a", "operator": "IN_CIDR", "values": ["nope"], "inverted": true}"#),
                constrained("in-ignores-case", #"{"contextName": "a", "operator": "IN", "values": ["X"], "caseInsensitive": true}"#),
                constrained("missing-num-inverted", #"{"contextName": "a", "operator": "NUM_EQ", "value": "1", "inverted": true}"#)))
        let x: [String: Value] = ["properties": ["a": "x"]]
        #expect(imported.isEnabled("in-empty-inverted", x))
        #expect(!imported.isEnabled("not-in-empty-inverted", x))
        #expect(!imported.isEnabled("v-semver-inverted", ["properties": ["a": "2.0.0"]]))
        #expect(imported.isEnabled("bad-regex-inverted", x))
        #expect(imported.isEnabled("bad-cidr-inverted", ["properties": ["a": "10.0.0.1"]]))
        #expect(!imported.isEnabled("in-ignores-case", x))
        #expect(imported.isEnabled("missing-num-inverted"))
        #expect(imported.result.warnings.isEmpty)
    }

    @Test func strategiesAfterOneThatMatchesEveryoneAreLeftOut() throws {
        let imported = try Imported(
            payload(
                """
                {"name": "f", "enabled": true, "strategies": [
                  {"name": "userWithId", "parameters": {"userIds": "1"}},
                  {"name": "default"},
                  {"name": "userWithId", "parameters": {"userIds": "2"}},
                  {"name": "flexibleRollout", "parameters": {"rollout": "5"}}]}
                """))
        #expect(imported.flag("f")?.rules.count == 2)
        #expect(imported.file("f").contains("# strategies 3 to 4 are not imported: strategy 2 matches everyone"))
    }

    @Test func strategiesThatNeverMatchAreLeftOutWithAWarning() throws {
        let imported = try Imported(
            payload(
                """
                {"name": "f", "enabled": true, "strategies": [
                  {"name": "applicationHostname", "parameters": {"hostNames": "web-1"}},
                  {"name": "gradualRolloutUserId", "parameters": {"percentage": "100"}},
                  {"name": "userWithId", "parameters": {}},
                  {"name": "flexibleRollout", "parameters": {"rollout": "50.5"}},
                  {"name": "remoteAddress", "parameters": {"IPs": "10.0.0.1"}}]}
                """))
        #expect(imported.result.warnings.map(\.field) == ["strategies[0]", "strategies[1]", "strategies[2]", "strategies[3]"])
        #expect(imported.flag("f")?.rules.count == 1)
        #expect(imported.isEnabled("f", ["remoteAddress": "10.0.0.1"]))
        #expect(!imported.isEnabled("f", ["userId": "1", "remoteAddress": "10.0.0.2"]))
        #expect(imported.file("f").contains("# strategy 2 (gradualRolloutUserId) is not imported: it has no 'groupId' parameter"))
    }

    @Test func aSegmentWithoutConstraintsHoldsForEveryone() throws {
        let imported = try Imported(
            payload(
                #"{"name": "f", "enabled": true, "strategies": [{"name": "default", "segments": [5]}]}"#,
                segments: #"[{"id": 5, "constraints": []}]"#))
        #expect(imported.isEnabled("f"))
        #expect(imported.result.files["app/segments/segment-5.yaml"]?.contains("- { all: [] }") == true)
    }

    @Test func randomRolloutsFollowUnleash() throws {
        let strategy = { (name: String, pct: String) in
            #"{"name": "\#(name)", "enabled": true, "strategies": [{"name": "gradualRolloutRandom", "parameters": {"percentage": "\#(pct)"}}]}"#
        }
        let imported = try Imported(payload(strategy("one", "1"), strategy("over", "250"), strategy("half", "50")))
        for seed in 1...50 as ClosedRange<UInt64> {
            #expect(imported.value("one", [:], seed: seed) == false)
            #expect(imported.value("over", [:], seed: seed) == true)
        }
        let on = (1...400 as ClosedRange<UInt64>).filter { imported.value("half", [:], seed: $0) == true }.count
        #expect(on > 140 && on < 260)
    }

    @Test func strategyVariantsUseTheStrategysStickinessAndGroup() throws {
        // SEMANTICS.md §8, example 9: murmur3("a:1", 86028157) % 2 + 1 = 1.
        let imported = try Imported(
            payload(
                """
                {"name": "f", "enabled": true, "strategies": [
                  {"name": "flexibleRollout", "parameters": {"rollout": "100", "stickiness": "clientId", "groupId": "a"},
                   "variants": [{"name": "A", "weight": 1, "stickiness": "ignored"}, {"name": "B", "weight": 1}]},
                  {"name": "default", "variants": []}],
                 "variants": [{"name": "fallback", "weight": 1}]}
                """))
        #expect(imported.variantName("f", ["properties": ["clientId": "1"]]) == "A")
        #expect(imported.variantName("f", ["properties": ["clientId": "2"]]) == "B")
        // No clientId: the rollout has no value, the strategy does not match; the next one has
        // no variants of its own and falls back to the feature's.
        #expect(imported.variantName("f", ["userId": "1"]) == "fallback")
    }

    @Test func zeroWeightVariantsAreServedByOverridesOnly() throws {
        let imported = try Imported(
            payload(
                """
                {"name": "f", "enabled": true, "strategies": [], "variants": [
                  {"name": "never", "weight": 0, "overrides": [{"contextName": "plan", "values": ["vip"]}]},
                  {"name": "a", "weight": 1}, {"name": "b", "weight": 1}]}
                """,
                """
                {"name": "g", "enabled": true, "variants": [{"name": "x", "weight": 0}]}
                """))
        #expect(imported.variantName("f", ["properties": ["plan": "vip"]]) == "never")
        for i in 0..<50 { #expect(imported.variantName("f", ["userId": .string("\(i)")]) != "never") }
        #expect(imported.value("g") == ["name": "disabled", "enabled": false, "feature_enabled": true])
        #expect(imported.result.warnings.first?.field == "variants")
    }

    @Test func dependenciesOnJsonParents() throws {
        let imported = try Imported(
            payload(
                """
                {"name": "parent", "enabled": true, "strategies": [
                   {"name": "default", "constraints": [{"contextName": "plan", "operator": "IN", "values": ["pro"]}],
                    "variants": [{"name": "x", "weight": 1}]},
                   {"name": "default", "constraints": [{"contextName": "plan", "operator": "IN", "values": ["team"]}]}]}
                """,
                #"{"name": "wants-x", "enabled": true, "dependencies": [{"feature": "parent", "variants": ["x"]}]}"#,
                #"{"name": "wants-y", "enabled": true, "dependencies": [{"feature": "parent", "variants": ["y"]}]}"#,
                #"{"name": "wants-off", "enabled": true, "dependencies": [{"feature": "parent", "enabled": false}]}"#))
        func on(_ f: String, _ plan: String) -> Bool { imported.isEnabled(f, ["properties": ["plan": .string(plan)]]) }
        #expect(on("wants-x", "pro"))
        // `team` turns the parent on with no variant to give: a variant list is then not checked.
        #expect(on("wants-x", "team"))
        #expect(!on("wants-x", "free"))
        #expect(!on("wants-y", "pro"))
        #expect(on("wants-y", "team"))
        #expect(on("wants-off", "free"))
        #expect(!on("wants-off", "pro"))
    }

    @Test func theGroupQuirkOfYggdrasilIsAWarning() throws {
        let imported = try Imported(
            payload(
                #"{"name": "parent", "enabled": true, "strategies": [{"name": "flexibleRollout", "parameters": {"rollout": "50"}}]}"#,
                #"{"name": "child", "enabled": true, "dependencies": [{"feature": "parent"}]}"#))
        let warning = try #require(imported.result.warnings.first)
        #expect(warning.feature == "child")
        #expect(warning.field == "dependencies[0]")
        #expect(warning.message.contains("without groupId"))
    }
}

// MARK: - What cannot be carried over

struct ImportErrorTests {
    @Test(arguments: [
        (
            constrained("scripts", #"{"contextName": "name", "operator": "REGEX", "value": "\\p{Greek}"}"#),
            "scripts", "strategies[0].constraints[0]", "outside what Flagstaff accepts"
        ),
        (
            payload(
                #"{"name": "p", "enabled": true, "variants": [{"name": "a", "weight": 1}]}"#,
                #"{"name": "c", "enabled": true, "dependencies": [{"feature": "p", "enabled": false, "variants": ["a"]}]}"#),
            "c", "dependencies[0].variants", "cannot express"
        ),
        (
            #"{"name": "t", "enabled": true, "variants": [{"name": "a", "weight": 1, "overrides": [{"contextName": "currentTime", "values": ["2026-01-01T00:00:00Z"]}]}]}"#,
            "t", "variants[0].overrides[0]", "currentTime"
        ),
        (
            #"{"name": "w", "enabled": true, "variants": [{"name": "a", "weight": "1"}]}"#,
            "w", "variants[0].weight", "expected a 32-bit integer"
        ),
        (#"{"name": "e"}"#, "e", "enabled", "is missing"),
    ])
    func namesTheFeatureAndTheField(_ json: String, _ feature: String, _ field: String, _ mention: String) throws {
        let document = json.hasPrefix("{\"version\"") ? json : payload(json)
        let parsed = try JSONParser.parse(document)
        let error = #expect(throws: UnleashImport.ImportError.self) {
            try UnleashImport.run(parsed, options: .init())
        }
        #expect(error?.feature == feature)
        #expect(error?.field == field)
        #expect(error?.message.contains(mention) == true, "\(error?.message ?? "")")
    }

    @Test func anInvalidProjectKeyIsAnError() {
        #expect(throws: UnleashImport.ImportError.self) {
            try UnleashImport.run(try JSONParser.parse(payload()), options: .init(project: "My App"))
        }
    }
}

// MARK: - Context and delta events

struct ContextTests {
    @Test func anUnleashContextBecomesTopLevelAttributes() {
        let native = UnleashImport.nativeContext([
            "userId": 123, "sessionId": .null, "appName": "web", "custom": true,
            "properties": [
                "plan": "pro", "seats": 12.5, "big": 1e21, "tiny": 0.00001, "whole": 3.0, "on": false, "gone": .null,
                "list": ["a"], "appName": "ignored", "sessionId": "s-1",
            ],
        ])
        #expect(
            native == [
                "userId": "123", "targetingKey": "123", "appName": "web", "custom": "true", "plan": "pro",
                "seats": "12.5", "big": "1e21", "tiny": "0.00001", "whole": "3.0", "on": "false", "sessionId": "s-1",
            ])
    }

    @Test func aTargetingKeyTheContextGivesIsKept() {
        #expect(
            UnleashImport.nativeContext(["userId": "u", "properties": ["targetingKey": "t"]])
                == ["userId": "u", "targetingKey": "t"])
    }
}

struct DeltaEventTests {
    @Test func eventsApplyInOrder() throws {
        let state = try JSONParser.parse(
            """
            {"events": [
              {"type": "hydration", "features": [{"name": "a", "enabled": true}, {"name": "b", "enabled": true}],
               "segments": [{"id": 1, "constraints": []}, {"id": 2, "constraints": []}]},
              {"type": "feature-updated", "feature": {"name": "a", "enabled": false}},
              {"type": "feature-removed", "featureName": "b"},
              {"type": "feature-updated", "feature": {"name": "c", "enabled": true}},
              {"type": "segment-removed", "segmentId": 1},
              {"type": "segment-updated", "segment": {"id": 3, "constraints": []}}
            ]}
            """)
        let features = try UnleashImport.applyDeltaEvents(state)
        #expect(
            features == [
                "version": 1, "features": [["name": "a", "enabled": false], ["name": "c", "enabled": true]],
                "segments": [["id": 2, "constraints": []], ["id": 3, "constraints": []]],
            ])
        // run() applies a delta document itself.
        let imported = try UnleashImport.run(state)
        #expect(imported.keyMap == ["a": "a", "c": "c"])
    }

    @Test func anUnknownEventIsAnError() throws {
        let state = try JSONParser.parse(#"{"events": [{"type": "feature-renamed"}]}"#)
        #expect(throws: UnleashImport.ImportError.self) { try UnleashImport.applyDeltaEvents(state) }
    }
}
