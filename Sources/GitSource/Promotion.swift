import FlagCompiler
import FlagModel

/// Which files a promotion copies, adds or deletes, by comparing blob ids.
public struct PromotionPlan: Sendable {
    public struct Change: Sendable {
        /// Root-relative.
        public var path: String
        /// The source's blob, nil when the promotion deletes the file.
        public var blob: ObjectID?
        /// `added`, `removed` or `changed`.
        public var kind: String
    }

    /// A named flag that the source environment's branch does not have.
    public struct UnknownFlag: Error, CustomStringConvertible {
        public var key: String
        public var description: String { "no flag '\(key)' in the source environment's branch" }
    }

    public var changes: [Change] = []

    /// The files that make `target` hold `source`'s version of the named flags (every flag
    /// and segment when `flags` is empty) and the segments they use.
    public init(source: GitTree, target: GitTree, flags: [String], project: String?) throws {
        func isFlagOrSegment(_ path: String) -> (project: String, kind: String, key: String)? {
            let parts = path.split(separator: "/").map(String.init)
            guard parts.count == 3, parts[1] == "flags" || parts[1] == "segments" else { return nil }
            guard project == nil || parts[0] == project else { return nil }
            return (parts[0], parts[1], Compiler.stemOf(parts[2]))
        }
        var wanted = Set<String>()
        if flags.isEmpty {
            for path in Set(source.entries.keys).union(target.entries.keys) where isFlagOrSegment(path) != nil {
                wanted.insert(path)
            }
        } else {
            for key in flags {
                let matches = source.entries.keys.filter {
                    if let f = isFlagOrSegment($0) { return f.kind == "flags" && f.key == key }
                    return false
                }
                guard !matches.isEmpty else { throw UnknownFlag(key: key) }
                wanted.formUnion(matches)
            }
            // The segments those flags use come along, so the promotion compiles.
            wanted.formUnion(try Self.segments(usedBy: wanted, in: source))
        }
        for path in wanted.sorted() {
            let from = source.entries[path]
            let to = target.entries[path]
            guard from != to else { continue }
            changes.append(Change(path: path, blob: from, kind: to == nil ? "added" : (from == nil ? "removed" : "changed")))
        }
    }

    /// Segment files referenced by the given flag files, and by those segments, in turn.
    static func segments(usedBy files: Set<String>, in tree: GitTree) throws -> Set<String> {
        var found = Set<String>()
        var queue = Array(files)
        while let path = queue.popLast() {
            let project = String(path.split(separator: "/").first ?? "")
            let text = String(decoding: try tree.read(path), as: UTF8.self)
            for key in Self.segmentReferences(text) {
                for candidate in ["\(project)/segments/\(key).yaml", "\(project)/segments/\(key).yml"]
                where tree.entries[candidate] != nil && !found.contains(candidate) {
                    found.insert(candidate)
                    queue.append(candidate)
                }
            }
        }
        return found
    }

    /// `segment: KEY` references, read from the YAML text (a promotion must work on flags
    /// that the target's compiler has not seen).
    static func segmentReferences(_ text: String) -> [String] {
        var keys: [String] = []
        var rest = text[...]
        while let r = rest.firstRange(of: "segment:") {
            var tail = rest[r.upperBound...].drop { $0 == " " || $0 == "\"" || $0 == "'" }
            let key = tail.prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
            if !key.isEmpty { keys.append(String(key)) }
            tail = tail.dropFirst(key.count)
            rest = tail
        }
        return keys
    }

    public func message(from: String, to: String, sourceBranch: String, sourceCommit: ObjectID) -> String {
        let flagChanges = changes.filter { $0.path.contains("/flags/") }
        let segmentChanges = changes.filter { $0.path.contains("/segments/") }
        var lines = [
            "Promote \(flagChanges.count) flag\(flagChanges.count == 1 ? "" : "s")"
                + (segmentChanges.isEmpty ? "" : " and \(segmentChanges.count) segment\(segmentChanges.count == 1 ? "" : "s")")
                + " from \(from) to \(to)",
            "",
            "From \(sourceBranch) at \(sourceCommit.short):",
        ]
        for change in changes {
            let parts = change.path.split(separator: "/")
            let what = parts.count == 3 ? "\(parts[0]) \(parts[1].dropLast()) \(Compiler.stemOf(String(parts[2])))" : change.path
            lines.append("- \(what): \(change.kind)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The source's version of a file, with the target's own overlays for the target's
    /// environments: a promotion brings what was tried elsewhere, never the undoing of a
    /// kill switch (or any other overlay) that the target environment set for itself. Only
    /// the overlay entries that differ are written (YAMLEditor keeps every other byte).
    public static func keepingOverlays(_ source: [UInt8], of environments: [String], from target: [UInt8]?)
        throws(YAMLEditError) -> [UInt8]
    {
        guard let target, !environments.isEmpty,
            let theirs = (try? YAMLReader.parse(target, file: "target"))??.value,
            let ours = (try? YAMLReader.parse(source, file: "source"))??.value
        else { return source }  // what does not parse, the compiler reports
        var editor = try YAMLEditor(source)
        for environment in environments {
            let kept = theirs["environments"]?[environment]
            guard kept != ours["environments"]?[environment] else { continue }
            if let kept { try editor.set(["environments", environment], to: kept) } else {
                try editor.remove(["environments", environment])
            }
        }
        return editor.bytes
    }
}
