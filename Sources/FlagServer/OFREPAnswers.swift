import FlagEngine
import FlagModel
import Hummingbird

/// The OFREP answers of one snapshot, pre-encoded: each flag's answers are FlagEngine's
/// `EncodedAnswers` (the C library answers with the same fragments), and the bulk answer's
/// head and tail, which name the stream, the project and the revision, are encoded here once.
final class OFREPAnswers: Sendable {
    let answers: EncodedAnswers
    /// `{"eventStreams":[…],"flags":[` and `],"metadata":{…}}` of the bulk answer.
    private let bulkHead: [UInt8]
    private let bulkTail: [UInt8]
    /// About the size of one answer (a little over), to size bulk buffers.
    var averageAnswer: Int { answers.averageAnswer }

    init(evaluator: Evaluator, project: String, environment: String, revision: Int64) {
        answers = EncodedAnswers(evaluator: evaluator)
        bulkHead = Array(
            (#"{"eventStreams":[{"endpoint":{"requestUri":"/api/v1/stream?events=ofrep"},"#
                + #""inactivityDelaySec":120,"type":"sse"}],"flags":["#).utf8)
        var tail = Array(#"],"metadata":{"environment":"#.utf8)
        CanonicalJSON.writeString(environment, to: &tail)
        tail += #","project":"#.utf8
        CanonicalJSON.writeString(project, to: &tail)
        tail += #","revision":\#(revision),"version":"#.utf8
        CanonicalJSON.writeString(evaluator.version, to: &tail)
        tail += "}}".utf8
        bulkTail = tail
    }

    /// Whether `decision` has a pre-encoded answer: it serves a variant. (One that serves
    /// none, which a compiled snapshot never decides, is encoded the slow way.)
    @inline(__always)
    static func isEncodable(_ decision: Decision) -> Bool { EncodedAnswers.isEncodable(decision) }

    /// Runs `body` with a writer over the fragments; the writer is valid only inside it.
    func withWriter<R>(_ body: (Writer) throws -> R) rethrows -> R {
        try answers.withWriter { try body(Writer(answers: self, fragments: $0)) }
    }

    struct Writer {
        let answers: OFREPAnswers
        let fragments: EncodedAnswers.Writer

        /// Writes the answer for flag `index`; `decision` must be encodable.
        @inline(__always)
        func write(flag index: Int, _ decision: Decision, to out: inout ByteBuffer) {
            fragments.write(flag: index, decision) { out.writeBytes($0) }
        }

        func writeBulkHead(to out: inout ByteBuffer) { out.writeBytes(answers.bulkHead) }
        func writeBulkTail(to out: inout ByteBuffer) { out.writeBytes(answers.bulkTail) }
    }
}
