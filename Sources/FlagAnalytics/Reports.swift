import FlagModel
import FlagStore
import Foundation

/// Runs a report's query and builds the report: what `flagstaff stats`, `stale` and
/// `experiment` (and the HTTP routes) call.
///
/// Like the store they take, every function blocks on PostgreSQL.
public enum Reports {
    /// Usage of `flag` from `from` (inclusive) to `to` (exclusive), per hour or day.
    public static func usage(
        store: AnalyticsStore, project: String, environment: String, flag: String, from: Date, to: Date,
        granularity: UsageGranularity
    ) throws(ReportError) -> UsageReport {
        let buckets = try read("read the usage of \(flag)") { () throws(StoreError) in
            try store.usage(
                project: project, environment: environment, flag: flag, from: from, to: to, granularity: granularity)
        }
        return UsageReport(
            project: project, environment: environment, flag: flag, granularity: granularity, from: from, to: to,
            buckets: buckets)
    }

    /// Usage of `flag` over the last `days` days up to `now`, in whole buckets: the first hour
    /// or day is counted from its start.
    public static func usage(
        store: AnalyticsStore, project: String, environment: String, flag: String, days: Int,
        granularity: UsageGranularity, now: Date
    ) throws(ReportError) -> UsageReport {
        let step = granularity == .hour ? 3600.0 : 86_400.0
        let from = ((now.timeIntervalSince1970 - Double(days) * 86_400) / step).rounded(.down) * step
        return try usage(
            store: store, project: project, environment: environment, flag: flag,
            from: Date(timeIntervalSince1970: from), to: now, granularity: granularity)
    }

    /// The stale flags of `snapshot`'s environment as of `now`, over the last `days` days.
    public static func stale(store: AnalyticsStore, snapshot: Snapshot, now: Date, days: Int) throws(ReportError)
        -> StaleReport
    {
        let activity = try read("read flag activity") { () throws(StoreError) in
            try store.activity(project: snapshot.project, environment: snapshot.environment)
        }
        return StaleReport(snapshot: snapshot, activity: activity, now: now, days: days)
    }

    /// The results of the split flag `flag` of `snapshot` against the tracking event `event`,
    /// from exposures between `from` and `to`. Throws when the snapshot has no such flag or
    /// it serves no split.
    public static func experiment(
        store: AnalyticsStore, snapshot: Snapshot, flag: String, event: String, from: Date, to: Date
    ) throws(ReportError) -> ExperimentReport {
        guard let served = snapshot.flag(flag) else {
            throw ReportError("no flag '\(flag)' in the snapshot served for \(snapshot.project)/\(snapshot.environment)")
        }
        // Checked before the query: a flag without a split needs no scan of the events.
        guard ExperimentReport.split(of: served) != nil else {
            return try ExperimentReport(
                project: snapshot.project, environment: snapshot.environment, flag: served, event: event, from: from,
                to: to, exposures: [])
        }
        let exposures = try read("read the exposures of \(flag)") { () throws(StoreError) in
            try store.exposures(
                project: snapshot.project, environment: snapshot.environment, flag: flag, event: event, from: from,
                to: to)
        }
        return try ExperimentReport(
            project: snapshot.project, environment: snapshot.environment, flag: served, event: event, from: from, to: to,
            exposures: exposures)
    }

    /// The (project, environment) a report is about when the caller names neither or one:
    /// the only project, and its production environment (the one marked `production`, else
    /// the one named so), among the environments the daemon has synced.
    public static func environment(sync: SyncStore, project: String?, environment: String?) throws(ReportError)
        -> EnvironmentStatus
    {
        let known = try read("read the environments") { () throws(StoreError) in try sync.status() }
        let projects = Array(Set(known.map(\.project))).sorted()
        let projectKey: String
        if let project {
            guard projects.contains(project) else {
                throw ReportError(
                    "no project '\(project)' in this database (known: \(projects.isEmpty ? "none" : projects.joined(separator: ", ")))")
            }
            projectKey = project
        } else if projects.count == 1 {
            projectKey = projects[0]
        } else if projects.isEmpty {
            throw ReportError("this database has no environments yet: has the daemon synced?")
        } else {
            throw ReportError("this database has several projects; choose one with --project (\(projects.joined(separator: ", ")))")
        }
        let candidates = known.filter { $0.project == projectKey }
        if let environment {
            guard let found = candidates.first(where: { $0.environment == environment }) else {
                throw ReportError(
                    "no environment '\(environment)' in project '\(projectKey)' (known: "
                        + candidates.map(\.environment).joined(separator: ", ") + ")")
            }
            return found
        }
        let marked = candidates.filter(\.production)
        if marked.count == 1 { return marked[0] }
        if let named = candidates.first(where: { $0.environment == "production" }) { return named }
        throw ReportError(
            "project '\(projectKey)' has no single production environment; choose one with --environment ("
                + candidates.map(\.environment).joined(separator: ", ") + ")")
    }

    /// The snapshot served for (project, environment): the latest the daemon applied.
    public static func servedSnapshot(sync: SyncStore, project: String, environment: String) throws(ReportError)
        -> Snapshot
    {
        let revisions = try read("read the latest revisions") { () throws(StoreError) in try sync.latestRevisions() }
        guard let revision = revisions.first(where: { $0.project == project && $0.environment == environment })?.revision
        else {
            throw ReportError("no snapshot of \(project)/\(environment) has been applied yet: has the daemon synced it?")
        }
        let content = try read("read the served snapshot") { () throws(StoreError) in
            try sync.snapshotContent(project: project, environment: environment, revision: revision)
        }
        guard let content else {
            throw ReportError("revision \(revision) of \(project)/\(environment) is missing from the snapshots table")
        }
        do {
            let value = try JSONParser.parse(content, limits: storedSnapshotLimits)
            return try Snapshot(json: value)
        } catch {
            throw ReportError("the stored snapshot of \(project)/\(environment) cannot be read: \(error)")
        }
    }

    /// The daemon wrote it; its size is bounded by the repository, not by a stranger.
    static let storedSnapshotLimits = JSONParser.Limits(maxDepth: 1024, maxMembers: Int.max)

    private static func read<T>(_ what: String, _ body: () throws(StoreError) -> T) throws(ReportError) -> T {
        do {
            return try body()
        } catch {
            throw ReportError("cannot \(what)", cause: error)
        }
    }
}
