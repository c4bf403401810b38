import FlagCompiler
import FlagModel
import Foundation
import GitSource
import Testing

@testable import FlagManage

/// The write path against real repositories made with the git command line: a bare remote
/// over file://, a branch that moves during a write, a push refused as not a fast-forward,
/// a work tree with uncommitted edits.
@Suite struct GitWriterTests {
    static let manifest = """
        version: 1
        organization: acme
        projects: { shop: {} }
        environments:
          production: { branch: main, production: true }

        """
    static let flag = """
        # keep me
        enabled: true
        default: off

        """

    /// A work tree with the manifest and one flag, committed on main.
    final class Scratch: @unchecked Sendable {
        let folder: URL

        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("flagstaff-writer-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try run("git", "init", "-q", "-b", "main", path("work"))
            try write("work/flagstaff.yaml", GitWriterTests.manifest)
            try write("work/shop/flags/checkout.yaml", GitWriterTests.flag)
            try git("work", "add", "-A")
            try git("work", "commit", "-q", "-m", "first")
        }

        deinit { try? FileManager.default.removeItem(at: folder) }

        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

        func write(_ name: String, _ text: String) throws {
            let file = folder.appendingPathComponent(name)
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }

        @discardableResult
        func git(_ repository: String, _ arguments: String...) throws -> String {
            try run(["git", "-C", path(repository), "-c", "user.name=Test", "-c", "user.email=test@acme.com"] + arguments)
        }

        @discardableResult
        func run(_ arguments: String...) throws -> String { try run(arguments) }

        @discardableResult
        func run(_ arguments: [String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let output = String(decoding: data, as: UTF8.self)
            guard process.terminationStatus == 0 else {
                throw FlagTreeError("\(arguments.joined(separator: " ")) failed: \(output)")
            }
            return output
        }
    }

    static let caller = Caller(
        kind: .key, id: "fsk_test", name: "Ana Silva", email: "ana@acme.com", role: .owner, project: nil)

    static func intent(_ summary: String) -> GitWriter.Intent {
        GitWriter.Intent(
            branch: "main", environments: ["production"], summary: summary, comment: nil, caller: caller,
            requestID: "test", precondition: nil, changeBranch: nil)
    }

    /// Sets `enabled` in the checkout flag, keeping the comment.
    static func setEnabled(_ enabled: Bool) -> GitWriter.Mutation {
        { tree throws(ManageError) in
            var editor = try! YAMLEditor(try! tree.read("shop/flags/checkout.yaml"))
            try! editor.set(["enabled"], to: .bool(enabled))
            return ["shop/flags/checkout.yaml": editor.bytes]
        }
    }

    @Test func aWriteToABareRemoteOverFileIsPushedAndMirrored() throws {
        let scratch = try Scratch()
        try scratch.run("git", "clone", "-q", "--bare", scratch.path("work"), scratch.path("remote.git"))
        let url = "file://" + scratch.path("remote.git")
        var configuration = ManagementConfiguration(
            repository: url, isRemote: true, mirrorPath: scratch.path("mirror.git"), root: nil, controlBranch: "main")
        configuration.attempts = 3
        let mirror = try GitRepository.mirror(at: configuration.mirrorPath)
        _ = try mirror.fetch(from: url)
        let writer = GitWriter(configuration: configuration)

        let written = try writer.write(Self.intent("Disable checkout"), mutation: Self.setEnabled(false))
        let commit = try #require(written.commit)
        #expect(written.attempts == 1)
        #expect(try scratch.git("remote.git", "rev-parse", "main").trimmingCharacters(in: .whitespacesAndNewlines) == commit.hex)
        #expect(mirror.branchTip("main") == commit)
        #expect(try scratch.git("remote.git", "show", "main:shop/flags/checkout.yaml") == "# keep me\nenabled: false\ndefault: off\n")
        let people = try scratch.git("remote.git", "log", "-1", "--format=%an <%ae> / %cn", "main")
        #expect(people.trimmingCharacters(in: .whitespacesAndNewlines) == "Ana Silva <ana@acme.com> / Flagstaff")
    }

    @Test func aPushRefusedAsNotAFastForwardIsRetriedOnTheNewTip() throws {
        let scratch = try Scratch()
        try scratch.run("git", "clone", "-q", "--bare", scratch.path("work"), scratch.path("remote.git"))
        let url = "file://" + scratch.path("remote.git")
        let configuration = ManagementConfiguration(
            repository: url, isRemote: true, mirrorPath: scratch.path("mirror.git"), root: nil, controlBranch: "main")
        _ = try GitRepository.mirror(at: configuration.mirrorPath).fetch(from: url)
        let writer = GitWriter(configuration: configuration)
        try scratch.run("git", "clone", "-q", url, scratch.path("other"))

        var calls = 0
        let written = try writer.write(Self.intent("Disable checkout")) { tree throws(ManageError) in
            calls += 1
            if calls == 1 {
                // Somebody else pushes first.
                try! scratch.write("other/shop/flags/banner.yaml", "default: off\n")
                try! scratch.git("other", "add", "-A")
                try! scratch.git("other", "commit", "-q", "-m", "banner")
                try! scratch.git("other", "push", "-q", "origin", "main")
            }
            return try Self.setEnabled(false)(tree)
        }
        #expect(written.attempts == 2)
        #expect(calls == 2)
        let log = try scratch.git("remote.git", "log", "--format=%s", "main")
        #expect(log.hasPrefix("Disable checkout\nbanner\nfirst"), "\(log)")
    }

    @Test func aBranchThatMovesDuringAWriteIsRetriedAndNothingIsLost() throws {
        let scratch = try Scratch()
        try scratch.run("git", "clone", "-q", "--bare", scratch.path("work"), scratch.path("local.git"))
        let configuration = ManagementConfiguration(
            repository: scratch.path("local.git"), isRemote: false, mirrorPath: "", root: nil, controlBranch: "main")
        let writer = GitWriter(configuration: configuration)
        try scratch.run("git", "clone", "-q", scratch.path("local.git"), scratch.path("other"))

        var calls = 0
        let written = try writer.write(Self.intent("Disable checkout")) { tree throws(ManageError) in
            calls += 1
            if calls == 1 {
                try! scratch.write("other/shop/flags/banner.yaml", "default: off\n")
                try! scratch.git("other", "add", "-A")
                try! scratch.git("other", "commit", "-q", "-m", "banner")
                try! scratch.git("other", "push", "-q", "origin", "main")
            }
            return try Self.setEnabled(false)(tree)
        }
        #expect(written.attempts == 2)
        let files = try scratch.git("local.git", "ls-tree", "-r", "--name-only", "main")
        #expect(files.contains("shop/flags/banner.yaml"))
        #expect(try scratch.git("local.git", "show", "main:shop/flags/checkout.yaml").contains("enabled: false"))
    }

    @Test func aBranchThatKeepsMovingEndsIn409() throws {
        let scratch = try Scratch()
        try scratch.run("git", "clone", "-q", "--bare", scratch.path("work"), scratch.path("local.git"))
        var configuration = ManagementConfiguration(
            repository: scratch.path("local.git"), isRemote: false, mirrorPath: "", root: nil, controlBranch: "main")
        configuration.attempts = 2
        let writer = GitWriter(configuration: configuration)
        try scratch.run("git", "clone", "-q", scratch.path("local.git"), scratch.path("other"))
        var calls = 0
        #expect(throws: ManageError.self) {
            try writer.write(Self.intent("Disable checkout")) { tree throws(ManageError) in
                calls += 1
                try! scratch.write("other/shop/flags/banner.yaml", "default: off\n# \(calls)\n")
                try! scratch.git("other", "add", "-A")
                try! scratch.git("other", "commit", "-q", "-m", "banner \(calls)")
                try! scratch.git("other", "push", "-q", "origin", "main")
                return try Self.setEnabled(false)(tree)
            }
        }
        #expect(calls == 2)
        #expect(try !scratch.git("local.git", "show", "main:shop/flags/checkout.yaml").contains("enabled: false"))
    }

    @Test func aCheckedOutBranchWithUncommittedEditsIsNotWritten() throws {
        let scratch = try Scratch()
        let configuration = ManagementConfiguration(
            repository: scratch.path("work"), isRemote: false, mirrorPath: "", root: nil, controlBranch: "main")
        let writer = GitWriter(configuration: configuration)
        let before = try scratch.git("work", "rev-parse", "main")
        try scratch.write("work/shop/flags/checkout.yaml", GitWriterTests.flag + "# my edit\n")
        do {
            _ = try writer.write(Self.intent("Disable checkout"), mutation: Self.setEnabled(false))
            Issue.record("the write went through over an uncommitted edit")
        } catch {
            #expect(error.code == "WORKTREE_DIRTY")
            #expect(error.status == .conflict)
        }
        #expect(try scratch.git("work", "rev-parse", "main") == before)

        // Clean again: the write lands, and the work tree and index follow the branch.
        try scratch.git("work", "checkout", "--", ".")
        _ = try writer.write(Self.intent("Disable checkout"), mutation: Self.setEnabled(false))
        #expect(try scratch.git("work", "status", "--porcelain").isEmpty)
        #expect(
            try String(contentsOfFile: scratch.path("work/shop/flags/checkout.yaml"), encoding: .utf8)
                == "# keep me\nenabled: false\ndefault: off\n")
    }

    @Test func aWriteThatChangesNothingMakesNoCommit() throws {
        let scratch = try Scratch()
        let configuration = ManagementConfiguration(
            repository: scratch.path("work"), isRemote: false, mirrorPath: "", root: nil, controlBranch: "main")
        let writer = GitWriter(configuration: configuration)
        let written = try writer.write(Self.intent("Enable checkout"), mutation: Self.setEnabled(true))
        #expect(written.commit == nil)
    }

    @Test func deletingTheLastFileOfAFolderLeavesNoEmptyFolder() throws {
        let scratch = try Scratch()
        try scratch.write("work/shop/segments/staff.yaml", "include: [u-1]\n")
        try scratch.git("work", "add", "-A")
        try scratch.git("work", "commit", "-q", "-m", "segment")
        try scratch.run("git", "clone", "-q", "--bare", scratch.path("work"), scratch.path("local.git"))
        let configuration = ManagementConfiguration(
            repository: scratch.path("local.git"), isRemote: false, mirrorPath: "", root: nil, controlBranch: "main")
        let written = try GitWriter(configuration: configuration).write(Self.intent("Delete segment staff")) { _ in
            ["shop/segments/staff.yaml": nil]
        }
        #expect(written.commit != nil)
        #expect(try !scratch.git("local.git", "ls-tree", "main", "shop/").contains("segments"))
        let files = try scratch.git("local.git", "ls-tree", "-r", "--name-only", "main")
        #expect(files == "flagstaff.yaml\nshop/flags/checkout.yaml\n", "\(files)")
        try scratch.git("local.git", "fsck", "--strict")
    }

    @Test func aChangeBranchOnARemoteIsPushedAndDeletedThere() throws {
        let scratch = try Scratch()
        try scratch.run("git", "clone", "-q", "--bare", scratch.path("work"), scratch.path("remote.git"))
        let url = "file://" + scratch.path("remote.git")
        let configuration = ManagementConfiguration(
            repository: url, isRemote: true, mirrorPath: scratch.path("mirror.git"), root: nil, controlBranch: "main")
        let mirror = try GitRepository.mirror(at: configuration.mirrorPath)
        _ = try mirror.fetch(from: url)
        let writer = GitWriter(configuration: configuration)
        var intent = Self.intent("Disable checkout")
        intent.changeBranch = "flagstaff/change/abc"
        let written = try writer.write(intent, mutation: Self.setEnabled(false))
        let commit = try #require(written.commit)
        #expect(try scratch.git("remote.git", "rev-parse", "flagstaff/change/abc").hasPrefix(commit.hex))
        #expect(try writer.deleteBranch("flagstaff/change/abc", expecting: commit))
        #expect(try !scratch.git("remote.git", "branch", "--list").contains("flagstaff/change/abc"))
        // The next fetch does not bring it back.
        _ = try mirror.fetch(from: url)
        #expect(mirror.branchTip("flagstaff/change/abc") == nil)
    }
}
