import FlagCompiler
import FlagEngine
import FlagModel
import Testing

private func at(_ text: String) -> Instant { Timestamp.parse(text)! }

/// The users, out of `users`, that a flag serves `on` at `time`.
private func usersOn(_ e: Evaluator, _ key: String, at time: String, users: Int = 2000) -> Set<Int> {
    var on = Set<Int>()
    for i in 0..<users where e.eval(key, ["targetingKey": .string("user-\(i)")], now: at(time)).variant == "on" {
        on.insert(i)
    }
    return on
}

@Suite("Time: ramps, steps and windows (SPEC §17)")
struct ScheduleTests {
    static let ramp = """
        rules:
          - name: ramp
            rollout:
              ramp: { from: 10, to: 60, start: 2026-12-07T09:00:00+01:00, end: 2026-12-12T08:00:00Z }
            serve: on
        """

    @Test func aRampServesItsFromBeforeItsStartAndItsToFromItsEnd() throws {
        let e = try evaluator(flags: ["ramp": Self.ramp])
        let rampFlag = try #require(e.snapshot.flags.first?.rules.first?.rollout)
        #expect(rampFlag.percentage(at: at("2026-12-01T00:00:00Z")) == 10)
        #expect(rampFlag.percentage(at: at("2026-12-07T08:00:00Z")) == 10)
        // Half-way through five days: 10 + 50 / 2.
        #expect(rampFlag.percentage(at: at("2026-12-09T20:00:00Z")) == 35)
        // One nanosecond before the end the fraction is dropped; at the end it is `to`.
        #expect(rampFlag.percentage(at: Instant(seconds: at("2026-12-12T08:00:00Z").seconds - 1, nanos: 999_999_999)) == 59)
        #expect(rampFlag.percentage(at: at("2026-12-12T08:00:00Z")) == 60)
        #expect(rampFlag.percentage(at: at("2027-06-01T00:00:00Z")) == 60)
    }

    @Test func theRampGateMatchesAFixedRolloutAtTheSamePercentage() throws {
        // At each instant the ramp must bucket exactly like `rollout: <its percentage now>`.
        let fixed = try evaluator(flags: ["ramp": "rules:\n  - { name: ramp, rollout: 35, serve: on }"])
        let ramping = try evaluator(flags: ["ramp": Self.ramp])
        #expect(usersOn(ramping, "ramp", at: "2026-12-09T20:00:00Z") == usersOn(fixed, "ramp", at: "2026-12-09T20:00:00Z"))
    }

    @Test func aUserInAtTenPercentStaysInAsTheRampGrows() throws {
        let e = try evaluator(flags: ["ramp": Self.ramp])
        var previous = usersOn(e, "ramp", at: "2026-12-01T00:00:00Z")
        #expect(!previous.isEmpty)
        for time in ["2026-12-08T00:00:00Z", "2026-12-09T00:00:00Z", "2026-12-10T12:00:00Z", "2026-12-13T00:00:00Z"] {
            let now = usersOn(e, "ramp", at: time)
            #expect(previous.isSubset(of: now), "a user dropped out at \(time)")
            #expect(now.count > previous.count)
            previous = now
        }
        // 60 % of 2000 users, give or take what hashing does to a sample.
        #expect((1100...1300).contains(previous.count))
    }

    @Test func stepsServeTheBaseUntilTheFirstStepThenEachInTurn() throws {
        let e = try evaluator(flags: [
            "staged": """
            rules:
              - rollout:
                  percentage: 5
                  steps:
                    - { at: 2026-12-07T09:00:00Z, percentage: 25 }
                    - { at: 2026-12-14T09:00:00Z, percentage: 100 }
                serve: on
            """
        ])
        let rollout = try #require(e.snapshot.flags.first?.rules.first?.rollout)
        #expect(rollout.percentage(at: at("2026-12-07T08:59:59Z")) == 5)
        #expect(rollout.percentage(at: at("2026-12-07T09:00:00Z")) == 25)
        #expect(rollout.percentage(at: at("2026-12-14T09:00:00Z")) == 100)
        let early = usersOn(e, "staged", at: "2026-12-01T00:00:00Z")
        let middle = usersOn(e, "staged", at: "2026-12-08T00:00:00Z")
        #expect(early.isSubset(of: middle))
        #expect(usersOn(e, "staged", at: "2026-12-15T00:00:00Z").count == 2000)
    }

    @Test func aFlagWindowServesOffVariantOutsideItAsDisabled() throws {
        let e = try evaluator(flags: [
            "banner": """
            window: { start: 2026-11-27T00:00:00-05:00, end: 2026-12-01T00:00:00-05:00 }
            default: on
            """
        ])
        #expect(e.eval("banner", now: at("2026-11-27T04:59:59Z")).reason == .disabled)
        #expect(e.eval("banner", now: at("2026-11-27T05:00:00Z")).variant == "on")
        #expect(e.eval("banner", now: at("2026-12-01T04:59:59Z")).variant == "on")
        let after = e.eval("banner", now: at("2026-12-01T05:00:00Z"))
        #expect(after.variant == "off")
        #expect(after.reason == .disabled)
        // With a window the flag is no longer STATIC inside it either.
        #expect(e.eval("banner", now: at("2026-11-28T00:00:00Z")).reason == .default)
    }

    @Test func aRuleWindowSkipsTheRuleOutsideIt() throws {
        let e = try evaluator(flags: [
            "promo": """
            rules:
              - name: launch week
                window: { start: 2026-12-07T00:00:00Z, end: 2026-12-14T00:00:00Z }
                serve: on
            """
        ])
        #expect(e.eval("promo", now: at("2026-12-06T23:59:59Z")).reason == .default)
        let inside = e.eval("promo", now: at("2026-12-10T00:00:00Z"))
        #expect(inside.variant == "on")
        #expect(inside.ruleName == "launch week")
        #expect(e.eval("promo", now: at("2026-12-14T00:00:00Z")).variant == "off")
    }

    @Test func aContextsCurrentTimeAsksWhatWillBeServedThen() throws {
        let e = try evaluator(flags: [
            "promo": "rules:\n  - { window: { start: 2026-12-07T00:00:00Z }, serve: on }"
        ])
        #expect(e.eval("promo", now: at("2026-12-01T00:00:00Z")).variant == "off")
        #expect(e.eval("promo", ["currentTime": "2026-12-08T00:00:00Z"], now: at("2026-12-01T00:00:00Z")).variant == "on")
        // An unreadable currentTime leaves the evaluation time alone.
        #expect(e.eval("promo", ["currentTime": "next tuesday"], now: at("2026-12-01T00:00:00Z")).variant == "off")
    }

    @Test func theEvaluatorKnowsWhenItsAnswersNextChange() throws {
        let e = try evaluator(flags: [
            "staged": """
            rules:
              - rollout:
                  steps:
                    - { at: 2026-12-07T09:00:00Z, percentage: 25 }
                    - { at: 2026-12-14T09:00:00Z, percentage: 100 }
                serve: on
            """,
            "banner": "window: { end: 2026-12-10T00:00:00Z }\ndefault: on",
            "plain": "default: on",
        ])
        #expect(e.changesWithTime)
        #expect(e.nextTimeBoundary(after: at("2026-12-01T00:00:00Z")) == at("2026-12-07T09:00:00Z"))
        #expect(e.nextTimeBoundary(after: at("2026-12-07T09:00:00Z")) == at("2026-12-10T00:00:00Z"))
        #expect(e.nextTimeBoundary(after: at("2026-12-14T09:00:00Z")) == nil)
        #expect(e.lastTimeBoundary(atOrBefore: at("2026-12-01T00:00:00Z")) == nil)
        #expect(e.lastTimeBoundary(atOrBefore: at("2026-12-11T00:00:00Z")) == at("2026-12-10T00:00:00Z"))
        let plain = try evaluator(flags: ["plain": "default: on"])
        #expect(!plain.changesWithTime)
    }

    @Test func everyWholePercentOfARampIsABoundaryWhereTheAnswerChanges() throws {
        let e = try evaluator(flags: ["ramp": Self.ramp])
        let rollout = try #require(e.snapshot.flags.first?.rules.first?.rollout)
        // 10 % → 60 %: fifty changes, the last at the end.
        #expect(e.timeBoundaries.count == 50)
        for boundary in e.timeBoundaries {
            let before = Instant(seconds: boundary.seconds - 1, nanos: 999_999_999)
            #expect(rollout.percentage(at: boundary) == rollout.percentage(at: before) + 1, "at \(boundary)")
        }
        #expect(e.timeBoundaries.last == at("2026-12-12T08:00:00Z"))
    }

    @Test func decideAndEvaluateAgreeOnAScheduledFlag() throws {
        // Same answers through decide() as through evaluate(): the path the server takes.
        let e = try evaluator(flags: ["ramp": Self.ramp])
        let index = try #require(e.index(of: "ramp"))
        for i in 0..<200 {
            let context = e.prepare(["targetingKey": .string("user-\(i)")], now: at("2026-12-09T20:00:00Z"))
            let decision = e.decide(at: index, context: context)
            #expect(e.result(of: decision, at: index) == e.evaluate("ramp", context: context))
        }
    }
}

@Suite("currentTime defaults to the evaluation time, whichever form a condition reads")
struct CurrentTimeDefaultTests {
    @Test func timeAndTextConditionsOnADefaultedCurrentTimeAgree() throws {
        let e = try evaluator(flags: [
            "after": "rules:\n  - { when: [ { attribute: currentTime, op: after, value: \"2026-12-01T00:00:00Z\" } ], serve: on }",
            "text": "rules:\n  - { when: [ { attribute: currentTime, op: starts_with, value: \"2026-12-01T00:00:01\" } ], serve: on }",
        ])
        // Whole seconds, as the formatted clock has always been read: half a second past
        // midnight is not yet after midnight, and its text is the second it is in.
        let halfPast = Instant(seconds: Timestamp.parse("2026-12-01T00:00:00Z")!.seconds, nanos: 500_000_000)
        #expect(e.eval("after", now: halfPast).variant == "off")
        #expect(e.eval("after", now: Instant(seconds: halfPast.seconds + 1)).variant == "on")
        #expect(e.eval("text", now: Instant(seconds: halfPast.seconds + 1, nanos: 250_000_000)).variant == "on")
        #expect(e.eval("text", now: halfPast).variant == "off")
    }
}
