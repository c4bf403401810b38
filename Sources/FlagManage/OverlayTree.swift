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

    func contentID(_ path: String) -> String? {
        // Changed files have no blob yet: never take them from the parse cache.
        changes[path] == nil ? base.contentID(path) : nil
    }
}
