import ArgumentParser
import FlagStore
import Foundation

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the PostgreSQL migrations (schemas/postgres/*.sql) that the database lacks.")

    @Option(help: "The PostgreSQL URL (also FLAGSTAFF_POSTGRES).")
    var postgres: String?

    @Option(help: "The folder of migrations (default: schemas/postgres next to the binary's source tree).")
    var migrations: String?

    func run() throws {
        guard let url = postgres ?? ProcessInfo.processInfo.environment["FLAGSTAFF_POSTGRES"] else {
            throw ValidationError("give --postgres URL or set FLAGSTAFF_POSTGRES")
        }
        let directory = migrations ?? Self.defaultMigrations()
        do {
            let applied = try Migrator(directory: directory).migrate(try PostgresConnection(url: url))
            print(applied.isEmpty ? "up to date" : "applied \(applied.joined(separator: ", "))")
        } catch {
            printError("error: \(error)")
            throw ExitStatus.failed
        }
    }

    /// `FLAGSTAFF_MIGRATIONS`, else `schemas/postgres` of the checkout the binary was built in
    /// (`.build/<config>/flagstaff`), else `/usr/share/flagstaff/postgres`.
    static func defaultMigrations() -> String {
        if let dir = ProcessInfo.processInfo.environment["FLAGSTAFF_MIGRATIONS"] { return dir }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("schemas/postgres").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return "/usr/share/flagstaff/postgres"
    }
}
