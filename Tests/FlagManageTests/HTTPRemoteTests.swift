import FlagCompiler
import Foundation
import GitSource
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import FlagManage

/// The write path against an http remote that wants a user name and password: git's own
/// `git http-backend` behind Tests/support/git-http-server.py, on the loopback interface.
/// The password reaches libgit2 only through the configuration's credentials, never the URL.
@Suite struct HTTPRemoteTests {
    typealias Scratch = GitWriterTests.Scratch

    static let user = "flagstaff-bot"
    static let password = "pw-7f1c2a9e-not-in-any-url"
    static let credentials = GitCredentials(username: user, password: password)

    /// The Python server, serving the bare repositories under `root` to `user`:`password` only,
    /// on a port of its choosing. Its log (one line a request) is `folder/server.log`.
    final class GitHTTPServer {
        let process = Process()
        let logPath: String
        private(set) var port = 0

        init(root: String, folder: String) throws {
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("support/git-http-server.py")
            let portFile = folder + "/port"
            logPath = folder + "/server.log"
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "python3", script.path, "--root", root, "--user", HTTPRemoteTests.user,
                "--password", HTTPRemoteTests.password, "--port-file", portFile,
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle(forWritingAtPath: logPath)
            try process.run()
            // The server writes the file whole once it listens.
            let deadline = Date().addingTimeInterval(10)
            while port == 0 {
                if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
                    let number = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
                {
                    port = number
                } else if !process.isRunning || Date() > deadline {
                    stop()
                    throw FlagTreeError("git-http-server.py did not start: \(log)")
                } else {
                    Thread.sleep(forTimeInterval: 0.05)
                }
            }
        }

        func url(_ repository: String) -> String { "http://127.0.0.1:\(port)/\(repository)" }

        var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

        /// SIGKILL, which no signal mask blocks: a child started from a Dispatch worker thread
        /// inherits that thread's mask, SIGTERM included, and would never end.
        func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    /// Serves a bare clone of the scratch work tree as `flags.git`.
    static func serve(_ scratch: Scratch) throws -> GitHTTPServer {
        try scratch.run("git", "clone", "-q", "--bare", scratch.path("work"), scratch.path("served/flags.git"))
        return try GitHTTPServer(root: scratch.path("served"), folder: scratch.folder.path)
    }

    /// A mirror of `url` fetched with the right credentials, and the configuration that writes
    /// through it with `credentials`.
    static func configuration(
        _ scratch: Scratch, url: String, credentials: GitCredentials?
    ) throws -> (ManagementConfiguration, GitRepository) {
        let mirror = try GitRepository.mirror(at: scratch.path("mirror.git"))
        _ = try mirror.fetch(from: url, credentials: Self.credentials)
        var configuration = ManagementConfiguration(
            repository: url, isRemote: true, mirrorPath: scratch.path("mirror.git"), root: nil, controlBranch: "main")
        configuration.credentials = credentials
        return (configuration, mirror)
    }

    static func tip(_ scratch: Scratch) throws -> String {
        try scratch.git("served/flags.git", "rev-parse", "main").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func aWriteToAnHTTPRemoteThatNeedsCredentialsIsPushedAndMirrored() throws {
        let scratch = try Scratch()
        let server = try Self.serve(scratch)
        defer { server.stop() }
        let (configuration, mirror) = try Self.configuration(
            scratch, url: server.url("flags.git"), credentials: Self.credentials)

        let written = try GitWriter(configuration: configuration)
            .write(GitWriterTests.intent("Disable checkout"), mutation: GitWriterTests.setEnabled(false))
        let commit = try #require(written.commit)
        #expect(written.attempts == 1)
        #expect(try Self.tip(scratch) == commit.hex, "\(server.log)")
        #expect(
            try scratch.git("served/flags.git", "show", "main:shop/flags/checkout.yaml")
                == "# keep me\nenabled: false\ndefault: off\n")
        #expect(mirror.branchTip("main") == commit)
        #expect(server.log.contains("POST /flags.git/git-receive-pack 200"), "\(server.log)")
    }

    @Test func aRefusedPasswordIsA503ThatDoesNotRepeatItAndMovesNothing() throws {
        let scratch = try Scratch()
        let server = try Self.serve(scratch)
        defer { server.stop() }
        let wrong = GitCredentials(username: Self.user, password: "wrong-" + Self.password)
        let (configuration, mirror) = try Self.configuration(scratch, url: server.url("flags.git"), credentials: wrong)
        let before = try Self.tip(scratch)
        let mirrored = mirror.branchTip("main")

        do {
            _ = try GitWriter(configuration: configuration)
                .write(GitWriterTests.intent("Disable checkout"), mutation: GitWriterTests.setEnabled(false))
            Issue.record("the write went through with a wrong password")
        } catch {
            #expect(error.status == .serviceUnavailable)
            #expect(!error.details.contains(Self.password), "\(error.details)")
            #expect(error.details.contains("refused the credentials"), "\(error.details)")
        }
        #expect(try Self.tip(scratch) == before)
        #expect(mirror.branchTip("main") == mirrored)
        #expect(server.log.contains("git-receive-pack 401"), "\(server.log)")
    }

    @Test func thePasswordComesOnlyFromTheConfigurationAndIsStoredNowhere() throws {
        let scratch = try Scratch()
        let server = try Self.serve(scratch)
        defer { server.stop() }
        let url = server.url("flags.git")
        #expect(URLComponents(string: url)?.user == nil && URLComponents(string: url)?.password == nil)
        // The URL alone does not get in.
        #expect(throws: GitError.self) {
            _ = try GitRepository.mirror(at: scratch.path("anonymous.git")).fetch(from: url)
        }

        let (configuration, _) = try Self.configuration(scratch, url: url, credentials: Self.credentials)
        #expect(!configuration.repository.contains(Self.password))
        #expect(!String(describing: configuration).contains(Self.password))
        let written = try GitWriter(configuration: configuration)
            .write(GitWriterTests.intent("Disable checkout"), mutation: GitWriterTests.setEnabled(false))
        #expect(try Self.tip(scratch) == written.commit?.hex)

        // Not in the mirror's config, FETCH_HEAD, reflogs or anywhere else on disk, nor in the log.
        let secret = Data(Self.password.utf8)
        let files = FileManager.default.enumerator(
            at: URL(fileURLWithPath: scratch.path("mirror.git")), includingPropertiesForKeys: nil)
        let leaks = (files?.allObjects as? [URL] ?? []).filter { (try? Data(contentsOf: $0))?.range(of: secret) != nil }
        #expect(leaks.isEmpty, "\(leaks.map(\.path))")
        #expect(!server.log.contains(Self.password))
    }
}
