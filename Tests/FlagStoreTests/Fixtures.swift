import FlagModel
import FlagStore
import Foundation
import Testing

extension TestDatabase {
    /// A new database with every migration applied (the binary's own copy), and a connection to it.
    static func migrated() throws -> PostgresConnection {
        let connection = try PostgresConnection(url: try create())
        try Migrator.builtIn.migrate(connection)
        return connection
    }

    /// `url` with another user name, for connecting as another role (the test server trusts
    /// every local connection).
    static func url(_ url: String, user: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else { return url }
        return String(url[..<scheme.upperBound]) + user + String(url[at...])
    }

    /// The URL of the database a connection is on.
    static func url(of connection: PostgresConnection) throws -> String {
        let name = try connection.scalar("SELECT current_database()") ?? ""
        let base = adminURL ?? ""
        return String(base[..<(base.lastIndex(of: "/") ?? base.endIndex)]) + "/" + name
    }
}

extension PostgresConnection {
    /// The first column of the first row, as text.
    func scalar(_ sql: String, _ parameters: [String?] = []) throws -> String? {
        try query(sql, parameters).first?.first ?? nil
    }

    func count(_ table: String) throws -> Int {
        Int(try scalar("SELECT count(*) FROM \(table)") ?? "") ?? -1
    }
}

/// Flags and segments of the project `shop` in organization `acme`, built directly.
enum Fixtures {
    static let checkout = Flag(
        key: "new-checkout", name: "New checkout", description: "The one-page checkout", owner: "team-payments",
        tags: ["checkout", "web"], expires: "2026-12-31",
        rules: [Rule(name: "beta", when: [.segment("beta-users")], serve: .variant("on"))])

    static let banner = Flag(
        key: "banner-text", type: .string, variants: ["short": "Hi", "long": "Hello there, “friend”\n"],
        offVariant: "short", defaultServe: .variant("long"))

    static let betaUsers = Segment(key: "beta-users", name: "Beta users", include: ["u1", "u2"])

    static let staff = Segment(
        key: "staff",
        when: [.attribute(AttributeCondition(attribute: "email", op: .endsWith, values: ["@acme.example"]))])

    static func snapshot(
        _ environment: String = "production", flags: [Flag], segments: [Segment], version: String
    ) -> Snapshot {
        Snapshot(
            organization: "acme", project: "shop", environment: environment, production: environment == "production",
            flags: flags, segments: segments, version: version)
    }

    /// The first snapshot most tests start from: two flags, two segments.
    static let first = snapshot(flags: [checkout, banner], segments: [betaUsers, staff], version: "sha256:one")
}

extension SyncStore {
    /// `apply` with the commit metadata the tests do not care about.
    @discardableResult
    func apply(_ snapshot: Snapshot, commit: String, branch: String = "main") throws -> AppliedRevision? {
        try apply(
            snapshot, commit: commit, branch: branch, author: "Ada <ada@acme.example>", message: "Change flags",
            redisPrefix: "flagstaff")
    }
}

/// Parses and re-encodes JSON text, to compare what PostgreSQL gives back with what went in.
func canonical(_ text: String?) throws -> String? {
    guard let text else { return nil }
    return CanonicalJSON.encode(try JSONParser.parse(text))
}
