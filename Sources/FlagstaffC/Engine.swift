import FlagEngine
import FlagModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The library's version (`flagstaff --version` of the same tree).
let libraryVersion = "0.1.0"

/// What a `flagstaff_engine *` points at: an evaluator and its version as a C string, both
/// immutable, so that any number of threads may evaluate on it at once.
final class Engine: Sendable {
    let evaluator: Evaluator
    /// `malloc`ed; freed with the engine.
    nonisolated(unsafe) let versionCString: UnsafeMutablePointer<CChar>

    let answers: EncodedAnswers
    /// Every flag key, NUL-terminated, back to back, in the evaluator's order (sorted by
    /// bytes); key `i` starts at `keyStarts[i]`, and `keyStarts` ends with the total.
    let keyBytes: [CChar]
    let keyStarts: [Int]

    init(evaluator: Evaluator) {
        self.evaluator = evaluator
        versionCString = strdup(evaluator.version)!
        answers = EncodedAnswers(evaluator: evaluator)
        var bytes: [CChar] = []
        var starts: [Int] = []
        for i in 0..<evaluator.flagCount {
            starts.append(bytes.count)
            bytes += evaluator.flagKey(at: i).utf8CString
        }
        starts.append(bytes.count)
        keyBytes = bytes
        keyStarts = starts
    }

    deinit { free(versionCString) }

    /// Snapshots are trusted more than contexts: deep conditions and many flags are fine.
    static let snapshotLimits = JSONParser.Limits(maxDepth: 64, maxMembers: 10_000_000)

    /// Reads a snapshot's JSON, or says what is wrong with it.
    static func make(json: UnsafeBufferPointer<UInt8>) -> Result<Engine, EngineError> {
        let value: Value
        do {
            value = try JSONParser.parse(bytes: json, limits: snapshotLimits)
        } catch {
            return .failure(EngineError("the snapshot is not valid JSON: \(error)"))
        }
        do {
            return .success(Engine(evaluator: Evaluator(snapshot: try Snapshot(json: value))))
        } catch {
            return .failure(EngineError("not a Flagstaff snapshot: \(error)"))
        }
    }

    // MARK: Contexts

    /// A context that cannot be evaluated: the error code and details of the result.
    struct ContextFailure: Error {
        var code: EvaluationErrorCode
        var details: String
    }

    /// The caller's context JSON, checked as the OFREP routes check a body's `context`.
    static func context(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<[String: Value], ContextFailure> {
        if bytes.isEmpty { return .success([:]) }
        let parsed: Value
        do {
            parsed = try JSONParser.parse(bytes: bytes, limits: EvaluationContext.limits)
        } catch {
            return .failure(ContextFailure(code: .parseError, details: "the context is not valid JSON: \(error)"))
        }
        switch parsed {
        case .null:
            return .success([:])
        case .object(let attributes):
            if let problem = EvaluationContext.problem(with: attributes) {
                return .failure(ContextFailure(code: .invalidContext, details: problem))
            }
            return .success(attributes)
        default:
            return .failure(
                ContextFailure(code: .invalidContext, details: "the context must be a JSON object, found \(parsed.kindName)"))
        }
    }

    // MARK: Answers

    /// One flag's answer: pre-encoded fragments when the flag serves a variant (always, for a
    /// compiled snapshot), else bytes written the general way (errors).
    enum Answer {
        case encoded(flag: Int, Decision)
        case bytes([UInt8])

        func length(_ writer: EncodedAnswers.Writer) -> Int {
            switch self {
            case .encoded(let flag, let decision): writer.length(flag: flag, decision)
            case .bytes(let bytes): bytes.count
            }
        }

        /// Writes the answer at `start`; returns the end.
        func write(_ writer: EncodedAnswers.Writer, to start: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
            var at = start
            switch self {
            case .encoded(let flag, let decision):
                writer.write(flag: flag, decision) { fragment in
                    at.copyMemory(from: fragment.baseAddress!, byteCount: fragment.count)
                    at += fragment.count
                }
            case .bytes(let bytes):
                bytes.withUnsafeBytes { at.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                at += bytes.count
            }
            return at
        }
    }

    /// The caller's context JSON prepared for the evaluator: straight from the bytes when it is
    /// a plain object (the common case, without a dictionary in between), else parsed in full
    /// and checked as the OFREP routes check it, which also words every error.
    func prepare(_ bytes: UnsafeBufferPointer<UInt8>, now: Instant) -> Result<PreparedContext, ContextFailure> {
        if !bytes.isEmpty, let prepared = evaluator.prepare(json: bytes, now: now) { return .success(prepared) }
        return Self.context(bytes).map { evaluator.prepare($0, now: now) }
    }

    /// Flag `key`'s answer (NUL-terminated bytes) for the context.
    func evaluate(_ key: UnsafePointer<CChar>, context bytes: UnsafeBufferPointer<UInt8>, now: Instant) -> Answer {
        let context: PreparedContext
        switch prepare(bytes, now: now) {
        case .failure(let failure):
            let result = EvaluationResult.failure(
                key: String(cString: key), code: failure.code, message: failure.details, version: evaluator.version)
            return .bytes(ResultJSON.encode(result))
        case .success(let prepared):
            context = prepared
        }
        guard let index = index(of: key) else {
            return .bytes(ResultJSON.encode(evaluator.evaluate(String(cString: key), context: context)))
        }
        let decision = evaluator.decide(at: index, context: context)
        guard EncodedAnswers.isEncodable(decision) else {
            return .bytes(ResultJSON.encode(evaluator.result(of: decision, at: index)))
        }
        return .encoded(flag: index, decision)
    }

    /// `{"flags":[…]}` for every flag, or, for a context that cannot be evaluated, the bulk
    /// OFREP route's error body `{"errorCode":…,"errorDetails":…}`.
    func evaluateAll(context bytes: UnsafeBufferPointer<UInt8>, now: Instant) -> Answer {
        switch prepare(bytes, now: now) {
        case .failure(let failure):
            return .bytes(
                CanonicalJSON.encodeBytes(
                    .object(["errorCode": .string(failure.code.rawValue), "errorDetails": .string(failure.details)])))
        case .success(let prepared):
            var out: [UInt8] = []
            out.reserveCapacity(16 + answers.averageAnswer * evaluator.flagCount)
            out.append(contentsOf: #"{"flags":["#.utf8)
            answers.withWriter { writer in
                for i in 0..<evaluator.flagCount {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    let decision = evaluator.decide(at: i, context: prepared)
                    if EncodedAnswers.isEncodable(decision) {
                        writer.write(flag: i, decision) { out.append(contentsOf: $0) }
                    } else {
                        ResultJSON.write(evaluator.result(of: decision, at: i), to: &out)
                    }
                }
            }
            out.append(contentsOf: "]}".utf8)
            return .bytes(out)
        }
    }

    /// The index of the flag with this key: a binary search over the keys' bytes (flags are
    /// sorted by them), so that no Swift string is made for the common case.
    func index(of key: UnsafePointer<CChar>) -> Int? {
        keyBytes.withUnsafeBufferPointer { bytes in
            var low = 0
            var high = keyStarts.count - 1
            while low < high {
                let mid = (low + high) / 2
                let order = strcmp(bytes.baseAddress! + keyStarts[mid], key)
                if order == 0 { return mid }
                if order < 0 { low = mid + 1 } else { high = mid }
            }
            return nil
        }
    }

    /// The wall clock; a context's `currentTime` still wins, as everywhere.
    static func now() -> Instant {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Instant(seconds: Int64(time.tv_sec), nanos: Int32(time.tv_nsec))
    }
}

/// Why a snapshot could not be loaded.
struct EngineError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
