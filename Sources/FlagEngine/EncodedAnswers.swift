import FlagModel

/// Every answer of one snapshot's flags, pre-encoded: each byte of an answer that does not
/// depend on the context is encoded once, when the snapshot is loaded, so answering is
/// deciding the flag and copying fragments: no `Value` tree, no key sorting, no escaping.
/// The OFREP routes and the C library answer with it.
///
/// The bytes are exactly what `CanonicalJSON` writes for `EvaluationResult.ofrepJSON` (keys
/// in the same order), which the server's tests check flag by flag and the shared vectors
/// case by case. An answer for flag `i` is
/// `prefix(i) + reasonHead(r) [+ rule(i, n)] + reasonTail(r) + variant(i, v)`:
///
///     {"key":"K","metadata":{"reason":"  TARGETING_MATCH"  ,"ruleIndex":0,"ruleName":"staff"
///     ,"version":"sha256:…"},"reason":"TARGETING_MATCH","value":  true,"variant":"on"}
public final class EncodedAnswers: Sendable {
    /// Every fragment, back to back; fragment `f` is `bytes[starts[f]..<starts[f + 1]]`.
    private let bytes: [UInt8]
    private let starts: [Int]
    /// Per flag: its first fragment (the prefix); its rules follow, then its variants.
    private let flagFirst: [Int]
    private let variantFirst: [Int]
    /// Per reason ordinal: the fragment closing the native reason, and the one from the
    /// version to the value.
    private let reasonHead: [Int]
    private let reasonTail: [Int]
    /// About the size of one answer (a little over), to size buffers.
    public let averageAnswer: Int

    public init(evaluator: Evaluator) {
        var bytes: [UInt8] = []
        var starts: [Int] = []
        func fragment(_ write: (inout [UInt8]) -> Void) -> Int {
            starts.append(bytes.count)
            write(&bytes)
            return starts.count - 1
        }
        func text(_ s: String) -> (inout [UInt8]) -> Void { { $0.append(contentsOf: s.utf8) } }
        func string(_ s: String) -> (inout [UInt8]) -> Void { { CanonicalJSON.writeString(s, to: &$0) } }
        var flagFirst: [Int] = []
        var variantFirst: [Int] = []
        flagFirst.reserveCapacity(evaluator.flagCount)
        variantFirst.reserveCapacity(evaluator.flagCount)
        for i in 0..<evaluator.flagCount {
            flagFirst.append(
                fragment {
                    text(#"{"key":"#)(&$0)
                    string(evaluator.flagKey(at: i))(&$0)
                    text(#","metadata":{"reason":""#)(&$0)
                })
            for (n, name) in evaluator.ruleNames(at: i).enumerated() {
                _ = fragment {
                    text(#","ruleIndex":\#(n)"#)(&$0)
                    if let name {
                        text(#","ruleName":"#)(&$0)
                        string(name)(&$0)
                    }
                }
            }
            let names = evaluator.variantNames(at: i)
            let values = evaluator.variantValues(at: i)
            var first = -1
            for v in names.indices {
                let f = fragment {
                    CanonicalJSON.write(values[v], to: &$0)
                    text(#","variant":"#)(&$0)
                    string(names[v])(&$0)
                    text("}")(&$0)
                }
                if first < 0 { first = f }
            }
            variantFirst.append(first < 0 ? starts.count : first)
        }
        var reasonHead: [Int] = []
        var reasonTail: [Int] = []
        for reason in Reason.allCases {
            reasonHead.append(fragment(text(reason.rawValue + "\"")))
            reasonTail.append(
                fragment {
                    text(#","version":"#)(&$0)
                    string(evaluator.version)(&$0)
                    text(#"},"reason":"#)(&$0)
                    string(reason.openFeatureReason)(&$0)
                    text(#","value":"#)(&$0)
                })
        }
        starts.append(bytes.count)
        self.bytes = bytes
        self.starts = starts
        self.flagFirst = flagFirst
        self.variantFirst = variantFirst
        self.reasonHead = reasonHead
        self.reasonTail = reasonTail
        let perFlag = evaluator.flagCount == 0 ? 0 : starts[reasonHead[0]] / evaluator.flagCount
        self.averageAnswer = perFlag + 96 + evaluator.version.utf8.count
    }

    /// Whether `decision` has a pre-encoded answer: it serves a variant. (One that serves
    /// none, which a compiled snapshot never decides, is encoded the slow way.)
    @inline(__always)
    public static func isEncodable(_ decision: Decision) -> Bool { decision.variant >= 0 }

    /// Runs `body` with a writer over the fragments; the writer is valid only inside it.
    public func withWriter<R>(_ body: (Writer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { raw in
            try starts.withUnsafeBufferPointer { starts in
                try body(Writer(answers: self, raw: raw, starts: starts))
            }
        }
    }

    public struct Writer {
        let answers: EncodedAnswers
        let raw: UnsafeRawBufferPointer
        let starts: UnsafeBufferPointer<Int>

        @inline(__always)
        func fragment(_ f: Int) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: raw[starts[f]..<starts[f + 1]])
        }

        /// Hands `sink` the fragments of flag `index`'s answer, in order; `decision` must be encodable.
        @inline(__always)
        public func write(flag index: Int, _ decision: Decision, to sink: (UnsafeRawBufferPointer) -> Void) {
            let reason = decision.reason.ordinal
            sink(fragment(answers.flagFirst[index]))
            sink(fragment(answers.reasonHead[reason]))
            if decision.rule >= 0 { sink(fragment(answers.flagFirst[index] + 1 + decision.rule)) }
            sink(fragment(answers.reasonTail[reason]))
            sink(fragment(answers.variantFirst[index] + decision.variant))
        }

        /// The length of flag `index`'s answer for `decision`, which must be encodable.
        @inline(__always)
        public func length(flag index: Int, _ decision: Decision) -> Int {
            var total = 0
            write(flag: index, decision) { total += $0.count }
            return total
        }
    }
}

extension Reason {
    /// The position in `allCases`, without searching it.
    @inline(__always)
    public var ordinal: Int {
        switch self {
        case .static: 0
        case .default: 1
        case .targetingMatch: 2
        case .split: 3
        case .disabled: 4
        case .prerequisiteFailed: 5
        case .error: 6
        }
    }
}
