import Foundation
import GitSource
import Testing

@Suite("Fetching a remote into a local mirror")
struct MirrorTests {
    @Test func fetchesOverFileURLsAndDetectsForcePushes() throws {
        let work = try GitFixture()
        let remote = try GitFixture(bare: true)
        let first = try work.commit(["a.txt": "1"], message: "one")
        try work.git(["push", "-q", remote.path, "main"])
        let mirrorPath = FileManager.default.temporaryDirectory.appendingPathComponent("mirror-\(UUID().uuidString)").path
        let mirror = try GitRepository.mirror(at: mirrorPath)
        let url = "file://" + remote.path

        let initial = try mirror.fetch(from: url)
        #expect(initial == [BranchUpdate(branch: "main", old: nil, new: try mirror.resolve(first), forced: false)])
        #expect(try mirror.fetch(from: url).isEmpty, "nothing moved")

        let second = try work.commit(["a.txt": "2"], message: "two")
        try work.git(["push", "-q", remote.path, "main"])
        let forward = try mirror.fetch(from: url)
        #expect(forward.count == 1)
        #expect(forward.first?.new?.hex == second)
        #expect(forward.first?.forced == false)

        try work.git(["reset", "-q", "--hard", first])
        let rewritten = try work.commit(["b.txt": "x"], message: "rewritten")
        try work.git(["push", "-q", "--force", remote.path, "main"])
        let forced = try mirror.fetch(from: url)
        #expect(forced.first?.new?.hex == rewritten)
        #expect(forced.first?.old?.hex == second)
        #expect(forced.first?.forced == true, "the new tip does not descend from the old one")

        try work.git(["push", "-q", remote.path, "main:staging"])
        #expect(try mirror.fetch(from: url).map(\.branch) == ["staging"])
        try work.git(["push", "-q", remote.path, ":staging"])
        let deleted = try mirror.fetch(from: url)
        #expect(deleted.first?.branch == "staging")
        #expect(deleted.first?.new == nil)
    }

    @Test func unreachableRemotesFailClearly() throws {
        let mirror = try GitRepository.mirror(
            at: FileManager.default.temporaryDirectory.appendingPathComponent("mirror-\(UUID().uuidString)").path)
        do {
            _ = try mirror.fetch(from: "file:///nonexistent/flagstaff-remote")
            Issue.record("fetching a missing remote succeeded")
        } catch {
            #expect(error.description.contains("fetch 'file:///nonexistent/flagstaff-remote'"), "\(error)")
        }
        do {
            _ = try mirror.fetch(from: "https://127.0.0.1:9/flags.git")
            Issue.record("fetching from a closed port succeeded")
        } catch {
            #expect(error.description.contains("https://127.0.0.1:9/flags.git"), "\(error)")
        }
    }
}
