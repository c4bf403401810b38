import FlagModel
import Foundation

/// The files of a flag repository root, wherever they come from: a directory on disk
/// here, a commit's tree through libgit2 for `--ref`.
public protocol FlagTree: Sendable {
    /// Every regular file under the root, as `/`-separated paths relative to it, sorted.
    func files() throws -> [String]
    func read(_ path: String) throws -> [UInt8]
    /// An identifier that changes whenever the file's content does (a Git blob id), for
    /// caching parsed files; nil when the tree cannot tell cheaply.
    func contentID(_ path: String) -> String?
}

extension FlagTree {
    public func contentID(_ path: String) -> String? { nil }
}

public struct FlagTreeError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }
}

/// A flag repository root on disk. Hidden files and folders (`.git`, `.github`) are skipped.
public struct DirectoryTree: FlagTree {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    public func files() throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FlagTreeError("'\(root)' is not a directory")
        }
        var out: [String] = []
        try walk(relative: "", into: &out)
        return out.sorted(by: UTF8Order.precedes)
    }

    private func walk(relative: String, into out: inout [String]) throws {
        let absolute = relative.isEmpty ? root : root + "/" + relative
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: absolute)
        } catch {
            throw FlagTreeError("cannot list '\(absolute)': \(error.localizedDescription)")
        }
        for name in names where !name.hasPrefix(".") {
            let path = relative.isEmpty ? name : relative + "/" + name
            let full = root + "/" + path
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), isDirectory.boolValue {
                try walk(relative: path, into: &out)
            } else {
                out.append(path)  // regular files, and links that lead nowhere (reading them fails)
            }
        }
    }

    public func read(_ path: String) throws -> [UInt8] {
        let full = root + "/" + path
        guard let data = FileManager.default.contents(atPath: full) else {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: full) {
                throw FlagTreeError("cannot read '\(path)': it is a symbolic link to '\(target)', which does not exist")
            }
            throw FlagTreeError("cannot read '\(path)': permission denied or not a regular file")
        }
        return [UInt8](data)
    }
}

/// Files held in memory: for tests, and for the Unleash importer's output before it is written.
public struct MemoryTree: FlagTree {
    public var contents: [String: [UInt8]]

    public init(_ files: [String: String]) {
        contents = files.mapValues { Array($0.utf8) }
    }

    public func files() throws -> [String] {
        contents.keys.sorted(by: UTF8Order.precedes)
    }

    public func read(_ path: String) throws -> [UInt8] {
        guard let bytes = contents[path] else { throw FlagTreeError("no file '\(path)'") }
        return bytes
    }
}
