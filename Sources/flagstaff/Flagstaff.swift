import ArgumentParser
import Foundation

@main
struct Flagstaff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flagstaff",
        abstract: "GitOps feature flags: validate, compile, test and evaluate a flag repository.",
        version: flagstaffVersion,
        subcommands: [
            Validate.self, Compile.self, Eval.self, Test.self, Diff.self, Promote.self, Drift.self, DaemonCommand.self,
            ReplicaCommand.self, Migrate.self, KeysCommand.self, Audit.self, Import.self, Init.self, Stats.self,
            Stale.self, Experiment.self,
        ]
    )

    /// Runs the command, mapping argument errors to exit code 2 as SPEC §8 asks (the
    /// parser's own convention is 64).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success || code == ExitStatus.failed {
                exit(withError: error)
            }
            // Help and version requests print and exit 0; everything else the parser
            // rejects is a usage error.
            let message = fullMessage(for: error)
            if !message.isEmpty { printError(message) }
            Foundation.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }
}

/// Exit codes (SPEC §8): 0 ok, 1 invalid input or failed check, 2 usage error.
enum ExitStatus {
    static let failed = ExitCode(1)
    static let usage = ExitCode(2)
}
