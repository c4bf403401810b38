import ArgumentParser
import FlagDaemon
import FlagStore
import Foundation
import GitSource

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the audit trail.", subcommands: [Verify.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the audit chain and name the first broken row (exit 1).",
            discussion: """
                Edited, deleted, inserted or reordered rows break the chain where it happened. Rows \
                deleted from the end leave a shorter chain that holds by itself: to see them, the \
                chain is also checked against the head the daemon anchors outside PostgreSQL, in \
                the reference refs/flagstaff/audit-head of the repository it follows (--repo: that \
                repository; for a URL, the daemon's mirror, found as the daemon finds it or with \
                --mirror), or given with --head ID:HASH (as the daemon's log prints it, message \
                "audit head"). A repository named (or set in FLAGSTAFF_REPO) that cannot be read is \
                an error; with neither, a repository at . without an anchor is only noted.
                """)
        @Option(help: "PostgreSQL URL.") var postgres: String?
        @Option(help: "The repository (or the daemon's mirror) holding refs/flagstaff/audit-head (default: .).")
        var repo: String?
        @Option(help: "The anchored head as ID:HASH, instead of reading it from --repo.") var head: String?
        @Option(help: "The daemon's mirror, when --repo is a URL (default: as the daemon's).") var mirror: String?

        func validate() throws {
            if let head, Self.parseHead(head) == nil {
                throw ValidationError("--head '\(head)' is not ID:HASH (a row id and a 64-digit hex hash)")
            }
        }

        static func parseHead(_ text: String) -> AuditHead? {
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let id = Int64(parts[0]) else { return nil }
            return AuditHead(decoding: Array("{\"id\":\(id),\"hash\":\"\(parts[1])\"}".utf8))
        }

        func run() throws {
            let settings = try Settings(configFile: nil)
            guard let url = settings.value("postgres", postgres) else {
                throw ValidationError("give --postgres URL (or FLAGSTAFF_POSTGRES)")
            }
            let (anchor, source) = try self.anchor(settings)
            do {
                let result = try AuditLog.verify(on: PostgresConnection(url: url), anchor: anchor, source: source)
                if let broken = result.firstBroken {
                    print("audit chain BROKEN after \(result.rowsChecked) good row(s): \(broken)")
                    throw ExitStatus.failed
                }
                print(
                    "audit chain valid: \(result.rowsChecked) row(s)"
                        + (result.anchor.map { ", reaching the anchored head (\($0))" } ?? ""))
            } catch let error as StoreError {
                printError("error: \(error)")
                throw ExitStatus.failed
            }
        }

        /// The head to check against and where it came from; none (with a note) when the
        /// repository holds none.
        func anchor(_ settings: Settings) throws -> (AuditHead?, String) {
            if let head { return (Self.parseHead(head), "--head") }
            // A daemon following a remote anchors in its mirror, where it would find it.
            let given = settings.value("repo", repo)
            var path = given ?? "."
            if path.contains("://") {
                var daemon = DaemonConfiguration(repository: path)
                daemon.mirror = settings.value("mirror", mirror)
                path = daemon.mirrorPath
            }
            let source = "\(AuditHead.reference) in \(path)"
            let bytes: [UInt8]?
            do {
                bytes = try GitRepository(path: path).referencedBlob(AuditHead.reference)
            } catch {
                if given != nil {
                    printError("error: \(error)")
                    throw ExitStatus.failed
                }
                bytes = nil
            }
            guard let bytes else {
                printError(
                    "note: no audit head anchored in \(path) (\(AuditHead.reference)); rows deleted from the end of "
                        + "the log would not show: give --repo the daemon's repository or mirror, or --head ID:HASH")
                return (nil, source)
            }
            guard let head = AuditHead(decoding: bytes) else {
                printError("error: \(source) does not hold an audit head ({\"hash\":…,\"id\":…})")
                throw ExitStatus.failed
            }
            return (head, source)
        }
    }
}
