import FlagEngine
import FlagModel

/// The outcome of one golden test in one environment.
public struct GoldenTestResult: Sendable {
    public var project: String
    public var flag: String
    public var environment: String
    public var name: String?
    public var location: SourceLocation
    public var expectedVariant: String
    /// The test's context, for replaying it elsewhere (a diff of two snapshots).
    public var context: [String: Value]
    public var result: EvaluationResult
    public var failure: String?
    /// For a test without `at:` that passes now: the first time the snapshot's schedules
    /// will make it fail, and how.
    public var laterFailure: (at: Instant, failure: String)?
    /// The flag is disabled (`enabled: false`) in this environment, or requires one that is,
    /// and the test expects what it serves otherwise: not checked, so that a kill switch is
    /// never held back by the tests of what it switches off. A test about the switched-off
    /// state names its reason (`DISABLED`, `PREREQUISITE_FAILED`) and is checked.
    public var skippedBecauseDisabled = false

    public var passed: Bool { failure == nil }

    /// W006 for a test not checked because its flag is disabled in the environment.
    public var skippedDiagnostic: Diagnostic? {
        guard skippedBecauseDisabled else { return nil }
        return Diagnostic(
            .disabledGoldenTest,
            "test\(name.map { " \"\($0)\"" } ?? "") of flag '\(flag)' is not checked in environment "
                + "'\(environment)': the flag, or a flag it requires, is disabled there (enabled: false)",
            at: location,
            hint: "it is checked again once the flag is enabled; a test of the disabled flag expects its off variant with `reason: DISABLED`")
    }

    /// W005 for a test that passes now but will fail once a schedule moves on.
    public var laterFailureDiagnostic: Diagnostic? {
        guard let laterFailure else { return nil }
        return Diagnostic(
            .untimedGoldenTest,
            "test\(name.map { " \"\($0)\"" } ?? "") of flag '\(flag)' passes now but fails from "
                + "\(Timestamp.format(laterFailure.at)) in environment '\(environment)', when a schedule moves on: "
                + laterFailure.failure,
            at: location, hint: "give the test `at:` with the time it is about (e.g. `at: \(Timestamp.format(laterFailure.at))`)")
    }

    public var diagnostic: Diagnostic {
        Diagnostic(
            .goldenTestFailed,
            "test\(name.map { " \"\($0)\"" } ?? "") of flag '\(flag)' failed in environment '\(environment)': \(failure ?? "")",
            at: location,
            hint: result.ruleIndex.map { i in
                "rule \(i + 1)\(result.ruleName.map { " \"\($0)\"" } ?? "") matched; check its conditions"
            })
    }
}

enum GoldenTests {
    static func run(
        flags: [String: [String: FlagSource]], snapshots: [Snapshot], now: Instant
    ) -> [GoldenTestResult] {
        var evaluators: [String: Evaluator] = [:]
        // Per environment, the flags switched off (`enabled: false`), and those that require
        // one: what a kill switch turns off, and whose tests it must not be held back by.
        var switchedOff: [String: Set<String>] = [:]
        for snapshot in snapshots {
            let name = "\(snapshot.project)/\(snapshot.environment)"
            evaluators[name] = Evaluator(snapshot: snapshot)
            var off = Set(snapshot.flags.filter { !$0.enabled }.map(\.key))
            var grew = !off.isEmpty
            while grew {
                grew = false
                for flag in snapshot.flags where !off.contains(flag.key) && flag.requires.contains(where: { off.contains($0.flag) }) {
                    off.insert(flag.key)
                    grew = true
                }
            }
            switchedOff[name] = off
        }
        let environmentsInOrder = snapshots.map(\.environment)
        var results: [GoldenTestResult] = []
        for project in flags.keys.sorted() {
            for key in flags[project]!.keys.sorted() {
                let flag = flags[project]![key]!
                for test in flag.tests {
                    let environments = test.environment.map { [$0.value] } ?? uniqued(environmentsInOrder)
                    for environment in environments {
                        guard let evaluator = evaluators["\(project)/\(environment)"] else { continue }
                        let context = evaluator.prepare(test.context, now: test.at?.instant ?? now)
                        let result = evaluator.evaluate(key, context: context)
                        var outcome = GoldenTestResult(
                            project: project, flag: key, environment: environment, name: test.name,
                            location: test.location, expectedVariant: test.expect.value, context: test.context,
                            result: result,
                            failure: failure(of: test, result))
                        if outcome.failure != nil, result.reason == .disabled || result.reason == .prerequisiteFailed,
                            switchedOff["\(project)/\(environment)"]?.contains(key) == true,
                            test.reason?.value != result.reason.rawValue
                        {
                            outcome.failure = nil
                            outcome.skippedBecauseDisabled = true
                        }
                        if outcome.passed, !outcome.skippedBecauseDisabled, test.at == nil {
                            outcome.laterFailure = laterFailure(of: test, key: key, evaluator, after: now)
                        }
                        results.append(outcome)
                    }
                }
            }
        }
        return results
    }

    /// A test that does not pin its time is evaluated again at every time the snapshot's
    /// answers change from now on: the first failure, if any.
    static func laterFailure(
        of test: GoldenTestSource, key: String, _ evaluator: Evaluator, after now: Instant
    ) -> (at: Instant, failure: String)? {
        var next = evaluator.nextTimeBoundary(after: now)
        while let boundary = next {
            let result = evaluator.evaluate(key, context: evaluator.prepare(test.context, now: boundary))
            if let failure = failure(of: test, result) { return (boundary, failure) }
            next = evaluator.nextTimeBoundary(after: boundary)
        }
        return nil
    }

    static func failure(of test: GoldenTestSource, _ result: EvaluationResult) -> String? {
        let got = "variant '\(result.variant ?? "none")' (\(result.reason.rawValue)\(result.ruleIndex.map { ", rule \($0 + 1)" } ?? ""))"
        if result.variant != test.expect.value {
            return "expected variant '\(test.expect.value)', got \(got)"
        }
        if let reason = test.reason, reason.value != result.reason.rawValue {
            return "expected reason \(reason.value), got \(got)"
        }
        if let value = test.value, value != result.value {
            return "expected value \(value), got \(result.value.map { "\($0)" } ?? "none")"
        }
        return nil
    }

    static func uniqued(_ items: [String]) -> [String] {
        var seen = Set<String>()
        return items.filter { seen.insert($0).inserted }
    }
}

/// Checks a context (from a golden test) against the manifest's context schema.
enum ContextCheck {
    static func check(
        _ context: [String: Value], schema: [String: ContextAttribute], at contextLocation: SourceLocation,
        attributeLocations: [String: SourceLocation] = [:]
    ) -> [Diagnostic] {
        var out: [Diagnostic] = []
        var flat: [(String, Value)] = []
        func flatten(_ prefix: String, _ object: [String: Value]) {
            for (k, v) in object {
                let name = prefix.isEmpty ? k : prefix + "." + k
                if case .object(let inner) = v, schema[name] == nil {
                    flatten(name, inner)
                } else {
                    flat.append((name, v))
                }
            }
        }
        flatten("", context)
        for (name, value) in flat.sorted(by: { $0.0 < $1.0 }) {
            if value == .null { continue }
            let location = attributeLocations[name] ?? contextLocation
            guard let attribute = schema[name] ?? Resolver.builtIn[name] else {
                out.append(
                    Diagnostic(
                        .contextSchemaViolation, "test context sets '\(name)', which the context schema does not declare",
                        at: location,
                        hint: Suggestions.closest(to: name, in: Array(schema.keys)).map { "did you mean '\($0)'?" }))
                continue
            }
            let text = value.scalarText ?? ""
            let fits: Bool
            switch attribute.type {
            case .string: fits = value.stringValue != nil
            case .number: fits = value.isNumber
            case .boolean: fits = value.boolValue != nil
            case .semver: fits = value.stringValue.flatMap { SemVer($0) } != nil
            case .datetime: fits = value.stringValue.flatMap { Timestamp.parse($0) } != nil
            case .ip: fits = value.stringValue.flatMap { IPAddress($0) } != nil
            }
            if !fits {
                var hint: String?
                if attribute.type == .number, case .string(let s) = value, NumberSyntax.parse(s) != nil {
                    hint = "remove the quotes to make it a number"
                }
                out.append(
                    Diagnostic(
                        .contextSchemaViolation, "test context sets '\(name)' to \(value), which is not a \(attribute.type.rawValue)",
                        at: location, hint: hint))
            } else if let allowed = attribute.allowed, !allowed.contains(text) {
                out.append(
                    Diagnostic(
                        .contextSchemaViolation, "test context sets '\(name)' to '\(text)', which is not one of its values",
                        at: location, hint: "allowed: \(allowed.joined(separator: ", "))"))
            }
        }
        return out
    }
}
