import ArgumentParser
import FlagAnalytics
import FlagCompiler
import FlagModel
import FlagStore
import Foundation
import GitSource

extension ReportFormat: ExpressibleByArgument {}
extension UsageGranularity: ExpressibleByArgument {}

/// What every report command takes: the database, which environment, how to print.
struct ReportOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL (also FLAGSTAFF_POSTGRES).")
    var postgres: String?

    @Option(help: "The project (default: the only project; also FLAGSTAFF_PROJECT).")
    var project: String?

    @Option(help: "The environment (default: the production environment; also FLAGSTAFF_ENVIRONMENT).")
    var environment: String?

    @Option(help: "Output: text, json or markdown.")
    var format: ReportFormat = .text

    /// The database's stores and the environment the report is about.
    func open() throws -> (analytics: AnalyticsStore, sync: SyncStore, environment: EnvironmentStatus) {
        let settings = try Settings(configFile: nil)
        guard let url = settings.value("postgres", postgres) else {
            throw ValidationError("give --postgres URL or set FLAGSTAFF_POSTGRES")
        }
        let connection: PostgresConnection
        do {
            connection = try PostgresConnection(url: url)
        } catch {
            printError("error: \(error)")
            throw ExitStatus.failed
        }
        return try reporting {
            let sync = SyncStore(connection: connection)
            let chosen = try Reports.environment(
                sync: sync, project: settings.value("project", project),
                environment: settings.value("environment", environment))
            return (AnalyticsStore(connection: connection), sync, chosen)
        }
    }

    func print(_ report: some AnalyticsReport) {
        Swift.print(report.rendered(format), terminator: "")
    }
}

/// Runs `body`, turning a report that cannot be made into its message and exit code 1.
func reporting<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ReportError {
        printError("error: \(error)")
        throw ExitStatus.failed
    }
}

/// `--days N`: a whole number of days, at least 1 and at most ten years.
func checkDays(_ days: Int) throws {
    guard (1...3660).contains(days) else { throw ValidationError("--days \(days) must be between 1 and 3660") }
}

// MARK: stats

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "How often a flag was evaluated, per hour or day and variant.",
        discussion: """
            Reads the hourly evaluation counts (evaluation_counts) of the last --days days, up to now. \
            Exit 1 when the database cannot be read or names no such project or environment.
            """)

    @OptionGroup var options: ReportOptions

    @Option(help: "The flag key.")
    var flag: String

    @Option(help: "hour or day (UTC).")
    var granularity: UsageGranularity = .day

    @Option(help: "How many days back from now.")
    var days: Int = 7

    func validate() throws { try checkDays(days) }

    func run() throws {
        let (analytics, _, environment) = try options.open()
        let report = try reporting {
            try Reports.usage(
                store: analytics, project: environment.project, environment: environment.environment, flag: flag,
                days: days, granularity: granularity, now: Date())
        }
        options.print(report)
    }
}

// MARK: experiment

struct Experiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A split flag's results against a tracking event: conversion per variant, lift, interval, p-value.",
        discussion: """
            Compares the variants of the flag's split (its default's, else its first rule's that has one) \
            from the evaluation events of the last --days days: users exposed, users who sent the tracking \
            event --event after their first exposure, the conversion rate, and the lift of each variant over \
            the first with a 95 % interval and a two-proportion z-test's p-value; then checks the exposed users \
            against the split's weights (sample ratio mismatch, warned below p = 0.001). \
            docs/analytics.md explains the statistics. Exit 1 when the flag serves no split.
            """)

    @OptionGroup var options: ReportOptions

    @Option(help: "The flag key; it must serve a split.")
    var flag: String

    @Option(help: "The tracking event that counts as a conversion.")
    var event: String

    @Option(help: "How many days back from now.")
    var days: Int = 14

    func validate() throws { try checkDays(days) }

    func run() throws {
        let (analytics, sync, environment) = try options.open()
        let now = Date()
        let report = try reporting {
            let snapshot = try Reports.servedSnapshot(
                sync: sync, project: environment.project, environment: environment.environment)
            return try Reports.experiment(
                store: analytics, snapshot: snapshot, flag: flag, event: event,
                from: now.addingTimeInterval(-Double(days) * 86_400), to: now)
        }
        options.print(report)
    }
}

// MARK: stale

struct Stale: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Flags never evaluated, not evaluated for days, serving one variant to everyone, or expired.",
        discussion: """
            Classifies every flag of the snapshot served for the environment from the evaluation counts \
            (flag_activity). With --branch NAME, also writes a branch off the environment's branch tip in \
            --repo whose one commit deletes the files of the flags ready to remove; it is compiled (with \
            the golden tests) first, and when the removal does not compile (another flag requires one of \
            them…) the diagnostics are printed, no branch is written, and the exit code is 1. The \
            environment's branch itself is never written, and an existing branch is never overwritten.
            """)

    @OptionGroup var options: ReportOptions

    @Option(help: "Days without evaluations (or with one variant) that make a flag stale.")
    var days: Int = 30

    @Option(help: "Write a branch with this name that removes the flags ready to remove.")
    var branch: String?

    @Option(help: "The repository for --branch (a folder; also FLAGSTAFF_REPO).")
    var repo: String?

    @Option(help: "The flag repository root inside the repository (also FLAGSTAFF_ROOT).")
    var root: String?

    func validate() throws {
        try checkDays(days)
        if let branch, branch.isEmpty || branch.hasPrefix("-") || branch.contains("..") || branch.contains(" ") {
            throw ValidationError("--branch '\(branch)' is not a branch name")
        }
    }

    func run() throws {
        let (analytics, sync, environment) = try options.open()
        let now = Date()
        let report = try reporting {
            let snapshot = try Reports.servedSnapshot(
                sync: sync, project: environment.project, environment: environment.environment)
            return try Reports.stale(store: analytics, snapshot: snapshot, now: now, days: days)
        }
        options.print(report)
        guard let branch else { return }
        let settings = try Settings(configFile: nil)
        let cleanup = StaleCleanup(
            repo: settings.value("repo", repo) ?? ".", root: settings.value("root", root), report: report,
            environmentBranch: environment.branch)
        // JSON on standard output stays one document; what the branch got goes to standard error.
        let say: (String) -> Void = options.format == .json ? { printError($0) } : { Swift.print($0) }
        do {
            try cleanup.write(branch: branch, say: say)
        } catch let error as GitError {
            printError("error: \(error)")
            throw ExitStatus.failed
        }
    }
}

/// The branch `flagstaff stale --branch` writes: one commit off the environment's branch tip
/// deleting the files of the flags ready to remove, kept only if it compiles.
struct StaleCleanup {
    var repo: String
    var root: String?
    var report: StaleReport
    var environmentBranch: String

    func write(branch name: String, say: (String) -> Void) throws {
        let repository = try GitRepository(path: repo)
        if let existing = repository.branchTip(name) {
            printError(
                "error: branch '\(name)' already exists (at \(existing.short)); it is never overwritten: "
                    + "choose another --branch or delete it")
            throw ExitStatus.failed
        }
        let ready = report.readyToRemove
        guard !ready.isEmpty else {
            say("no flag is ready to remove; no branch written")
            return
        }
        let tip = try repository.resolve(environmentBranch)
        let tree = try repository.tree(at: tip, root: root)
        let prefix = Promote.prefix(root)
        var changes: [GitRepository.FileChange] = []
        var removed: [(flag: String, variant: String)] = []
        for (flag, variant) in ready {
            let candidates = ["yaml", "yml"].map { "\(report.project)/flags/\(flag).\($0)" }
            guard let path = candidates.first(where: { tree.entries[$0] != nil }) else {
                printError("note: \(flag) has no file on \(environmentBranch) any more; nothing to remove for it")
                continue
            }
            changes.append(GitRepository.FileChange(path: prefix + path, blob: nil))
            removed.append((flag, variant))
        }
        guard !changes.isEmpty else {
            say("the flags ready to remove are already gone from \(environmentBranch); no branch written")
            return
        }
        let message = Self.message(removed, report: report)
        let author = Signature(name: "Flagstaff", email: "flagstaff@localhost", time: Int64(Date().timeIntervalSince1970))
        let commit = try repository.commit(onto: tip, changes: changes, message: message, author: author)

        // Only a removal that compiles, golden tests included, becomes a branch.
        let after = try repository.tree(at: commit, root: root)
        let result = Compiler().compile(after, options: CompileOptions(now: Clock.now()))
        if result.hasErrors {
            let formatter = DiagnosticFormatter(format: .text, pathPrefix: prefix) { file in
                guard let bytes = try? after.read(file), let text = String(validating: bytes, as: UTF8.self) else {
                    return nil
                }
                return text.split(omittingEmptySubsequences: false, whereSeparator: { $0.isNewline })
            }
            printError(
                formatter.render(result.errors)
                    + "removing \(removed.map(\.flag).joined(separator: ", ")) does not compile on \(environmentBranch); "
                    + "no branch was written")
            throw ExitStatus.failed
        }
        try repository.createBranch(name, at: commit)
        say("created branch \(name) at \(commit.short) (based on \(environmentBranch) \(tip.short)), removing "
            + removed.map { "\($0.flag) (keep '\($0.variant)')" }.joined(separator: ", "))
    }

    static func message(_ removed: [(flag: String, variant: String)], report: StaleReport) -> String {
        var lines = [
            "Remove \(removed.count) flag\(removed.count == 1 ? "" : "s") that served one variant for \(report.days) days",
            "",
            "flagstaff stale found that in \(report.project)/\(report.environment) "
                + "\(removed.count == 1 ? "this flag" : "these flags") served a single variant to all traffic from "
                + "\(ISO8601DateFormatter().string(from: report.cutoff)) to \(ISO8601DateFormatter().string(from: report.now)). "
                + "The code reading \(removed.count == 1 ? "it" : "them") should use that value before this merges:",
            "",
        ]
        for (flag, variant) in removed { lines.append("- \(flag): always '\(variant)'") }
        return lines.joined(separator: "\n") + "\n"
    }
}
