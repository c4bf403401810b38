import FlagCompiler
import GitSource

/// A commit's flag tree with some files replaced, added or deleted in memory: what a write
/// compiles before anything is committed.
struct OverlayTree: FlagTree {
    let base: GitTree
    /// Root-relative path → new bytes, or nil for a deleted file.
    let changes: [String: [UInt8]?]

    func files() throws -> [String] {
        var paths = Set(base.entries.keys)
        for (path, bytes) in changes {
            if bytes == nil { paths.remove(path) } else { paths.insert(path) }
        }
        return paths.sorted()
    }

    func read(_ path: String) throws -> [UInt8] {
        if let change = changes[path] {
            guard let bytes = change else { throw FlagTreeError("no file '\(path)'") }
            return bytes
        }
        return try base.read(path)
    }

    /// A changed file's id is the blob id its bytes will have, so the compiler's caches
    /// treat it like any other file (and patch one flag instead of resolving them all).
    func contentID(_ path: String) -> String? {
        guard let change = changes[path] else { return base.contentID(path) }
        return change.map { GitRepository.blobID(of: $0).hex }
    }
}
