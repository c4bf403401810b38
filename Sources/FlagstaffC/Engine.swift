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

    init(evaluator: Evaluator) {
        self.evaluator = evaluator
        versionCString = strdup(evaluator.version)!
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

    /// The result of one flag, as compact canonical JSON.
    func evaluate(_ key: String, context bytes: UnsafeBufferPointer<UInt8>, now: Instant) -> [UInt8] {
        switch Self.context(bytes) {
        case .failure(let failure):
            let result = EvaluationResult.failure(
                key: key, code: failure.code, message: failure.details, version: evaluator.version)
            return CanonicalJSON.encodeBytes(result.ofrepJSON)
        case .success(let context):
            var out: [UInt8] = []
            out.reserveCapacity(256)
            ResultJSON.write(evaluator.evaluate(key, context: evaluator.prepare(context, now: now)), to: &out)
            return out
        }
    }

    /// `{"flags":[…]}` for every flag, or, for a context that cannot be evaluated, the bulk
    /// OFREP route's error body `{"errorCode":…,"errorDetails":…}`.
    func evaluateAll(context bytes: UnsafeBufferPointer<UInt8>, now: Instant) -> [UInt8] {
        switch Self.context(bytes) {
        case .failure(let failure):
            return CanonicalJSON.encodeBytes(
                .object(["errorCode": .string(failure.code.rawValue), "errorDetails": .string(failure.details)]))
        case .success(let context):
            let prepared = evaluator.prepare(context, now: now)
            var out: [UInt8] = []
            out.reserveCapacity(16 + 256 * evaluator.flagCount)
            out.append(contentsOf: #"{"flags":["#.utf8)
            for i in 0..<evaluator.flagCount {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                ResultJSON.write(evaluator.result(of: evaluator.decide(at: i, context: prepared), at: i), to: &out)
            }
            out.append(contentsOf: "]}".utf8)
            return out
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
