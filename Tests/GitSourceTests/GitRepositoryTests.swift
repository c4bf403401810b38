import FlagCompiler
import FlagModel
import GitSource
import Testing

@Suite("Reading Git through libgit2")
struct GitRepositoryTests {
    @Test func resolvesBranchesTagsAndShas() throws {
        let fixture = try GitFixture()
        let first = try fixture.commit(["flags/flagstaff.yaml": GitFixture.manifest], message: "first")
        try fixture.git(["tag", "v1"])
        try fixture.git(["tag", "-a", "v1-annotated", "-m", "annotated"])
        let second = try fixture.commit(["flags/shop/flags/a.yaml": "default: on\n"], message: "second")
        try fixture.git(["branch", "staging", first])
        let repo = try GitRepository(path: fixture.path)
        #expect(try repo.resolve("main").hex == second)
        #expect(try repo.resolve("HEAD").hex == second)
        #expect(try repo.resolve("HEAD~1").hex == first)
        #expect(try repo.resolve("staging").hex == first)
        #expect(try repo.resolve("v1").hex == first)
        #expect(try repo.resolve("v1-annotated").hex == first, "annotated tags peel to their commit")
        #expect(try repo.resolve(second).hex == second)
        #expect(try repo.resolve(String(second.prefix(7))).hex == second)
        #expect(repo.branchTip("staging")?.hex == first)
        #expect(repo.branchTip("nope") == nil)
        #expect(try repo.branches() == ["main", "staging"])
        #expect(throws: GitError.self) { try repo.resolve("no-such-branch") }
        do {
            _ = try repo.resolve("no-such-branch")
        } catch {
            #expect(error.description.contains("no branch, tag or commit named 'no-such-branch'"))
        }
    }

    @Test func resolvesRemoteBranchesOfAClone() throws {
        let origin = try GitFixture()
        let sha = try origin.commit(["flags/flagstaff.yaml": GitFixture.manifest], message: "first")
        let clone = try GitFixture()
        try clone.git(["remote", "add", "origin", origin.path])
        try clone.git(["fetch", "-q", "origin"])
        let repo = try GitRepository(path: clone.path)
        #expect(try repo.resolve("origin/main").hex == sha)
        #expect(try repo.resolve("refs/remotes/origin/main").hex == sha)
        #expect(repo.branchTip("main") == nil, "a remote branch is not a local one")
    }

    @Test func readsTheRootAtACommitWithoutCheckingOut() throws {
        let fixture = try GitFixture()
        let first = try fixture.commit(
            [
                "flags/flagstaff.yaml": GitFixture.manifest, "flags/shop/flags/a.yaml": "default: on\n",
                "flags/.github/ignored.yaml": "x: 1\n", "README.md": "hello\n",
            ], message: "first")
        try fixture.commit(["flags/shop/flags/a.yaml": "default: off\n"], message: "second")
        let repo = try GitRepository(path: fixture.path)
        let tree = try repo.tree(at: try repo.resolve(first), root: "flags")
        #expect(try tree.files() == ["flagstaff.yaml", "shop/flags/a.yaml"])
        #expect(String(decoding: try tree.read("shop/flags/a.yaml"), as: UTF8.self) == "default: on\n")
        #expect(tree.contentID("shop/flags/a.yaml")?.count == 40)
        let whole = try repo.tree(at: try repo.resolve("main"))
        #expect(try whole.files().contains("README.md"))
        #expect(throws: GitError.self) { try repo.tree(at: try repo.resolve("main"), root: "nowhere") }
    }

    @Test func commitMetadataAndHistory() throws {
        let fixture = try GitFixture()
        let base = try fixture.commit(["f.txt": "1"], message: "base\n\nbody")
        try fixture.git(["checkout", "-q", "-b", "feature"])
        let feature = try fixture.commit(["g.txt": "2"], message: "feature work")
        try fixture.git(["checkout", "-q", "main"])
        let other = try fixture.commit(["h.txt": "3"], message: "main work")
        try fixture.git(["merge", "-q", "--no-ff", "-m", "merge feature", "feature"])
        let merge = try fixture.git(["rev-parse", "HEAD"])
        let repo = try GitRepository(path: fixture.path)
        let info = try repo.commit(try repo.resolve(base))
        #expect(info.author.name == "Kim Author")
        #expect(info.author.email == "kim@acme.test")
        #expect(info.committer.name == "Lee Committer")
        #expect(info.summary == "base")
        #expect(info.message.contains("body"))
        #expect(info.parents.isEmpty)
        let mergeInfo = try repo.commit(try repo.resolve(merge))
        #expect(mergeInfo.parents.map(\.hex) == [other, feature])
        #expect(try repo.mergeBase(try repo.resolve(feature), try repo.resolve(other))?.hex == base)
        #expect(try repo.isDescendant(try repo.resolve(merge), of: try repo.resolve(base)))
        #expect(try !repo.isDescendant(try repo.resolve(feature), of: try repo.resolve(other)))
    }

    @Test func opensBareRepositories() throws {
        let work = try GitFixture()
        let sha = try work.commit(["flags/flagstaff.yaml": GitFixture.manifest], message: "first")
        let bare = try GitFixture(bare: true)
        try work.git(["push", "-q", bare.path, "main"])
        let repo = try GitRepository(path: bare.path)
        #expect(repo.isBare)
        #expect(try repo.resolve("main").hex == sha)
        #expect(try repo.tree(at: try repo.resolve("main"), root: "flags").files() == ["flagstaff.yaml"])
    }

    @Test func aCommitCompilesLikeItsWorkingTree() throws {
        let fixture = try GitFixture()
        let files = [
            "flagstaff.yaml": GitFixture.manifest,
            "shop/flags/a.yaml": "rules: [ { when: [ { segment: s } ], serve: on } ]\n",
            "shop/segments/s.yaml": "include: [u1]\n",
        ]
        try fixture.commit(files, message: "flags")
        let repo = try GitRepository(path: fixture.path)
        let fromGit = Compiler().compile(try repo.tree(at: try repo.resolve("main")), options: CompileOptions())
        let fromDisk = Compiler().compile(DirectoryTree(root: fixture.path), options: CompileOptions())
        #expect(!fromGit.hasErrors)
        #expect(fromGit.snapshots.map(\.version) == fromDisk.snapshots.map(\.version))
    }

    @Test func aBrokenCommitReportsItsFile() throws {
        let fixture = try GitFixture()
        try fixture.commit(["flagstaff.yaml": GitFixture.manifest, "shop/flags/a.yaml": "rules: [\n"], message: "broken")
        let repo = try GitRepository(path: fixture.path)
        let compilation = Compiler().compile(try repo.tree(at: try repo.resolve("main")), options: CompileOptions())
        #expect(compilation.errors.first?.code == .yamlSyntax)
        #expect(compilation.errors.first?.location.file == "shop/flags/a.yaml")
    }

    @Test func theParseCacheParsesOnlyChangedFiles() throws {
        let fixture = try GitFixture()
        var files = ["flagstaff.yaml": GitFixture.manifest]
        for i in 0..<50 { files["shop/flags/f\(i).yaml"] = "default: on\n" }
        let first = try fixture.commit(files, message: "fifty flags")
        let second = try fixture.commit(["shop/flags/f7.yaml": "default: off\n"], message: "one change")
        let repo = try GitRepository(path: fixture.path)
        let cache = ParseCache()
        let compiler = Compiler(cache: cache)
        let a = compiler.compile(try repo.tree(at: try repo.resolve(first)), options: CompileOptions())
        #expect(cache.misses == 50)
        #expect(cache.hits == 0)
        let b = compiler.compile(try repo.tree(at: try repo.resolve(second)), options: CompileOptions())
        #expect(cache.misses == 51, "only the changed file is parsed again")
        #expect(cache.hits == 49)
        #expect(a.snapshots[0].flag("f7")?.defaultServe == .variant("on"))
        #expect(b.snapshots[0].flag("f7")?.defaultServe == .variant("off"))
        cache.trim()
        #expect(cache.count == 51, "nothing is stale yet")
        var everything: [String: String] = [:]
        for i in 0..<50 { everything["shop/flags/f\(i).yaml"] = "default: off\n# rewritten \(i)\n" }
        let third = try fixture.commit(everything, message: "every file changes")
        _ = compiler.compile(try repo.tree(at: try repo.resolve(third)), options: CompileOptions())
        cache.trim()
        #expect(cache.count == 50, "entries no compilation since the last trim used are dropped once they are half")
    }
}
