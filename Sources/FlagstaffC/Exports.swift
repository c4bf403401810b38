// The functions of include/flagstaff.h. An engine handle is a retained `Engine`; strings the
// library returns are malloc'ed, so that flagstaff_string_free is free(3).
import FlagEngine
import FlagModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `flagstaff_version`'s answer, made once.
nonisolated(unsafe) private let versionCString: UnsafeMutablePointer<CChar> = strdup(libraryVersion)!

@_cdecl("flagstaff_version")
public func flagstaff_version() -> UnsafePointer<CChar> {
    UnsafePointer(versionCString)
}

@_cdecl("flagstaff_engine_new")
public func flagstaff_engine_new(
    _ json: UnsafePointer<CChar>?, _ length: Int, _ error: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> OpaquePointer? {
    error?.pointee = nil
    guard let json else {
        error?.pointee = strdup("no snapshot JSON (NULL)")
        return nil
    }
    let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(json).assumingMemoryBound(to: UInt8.self), count: length)
    switch Engine.make(json: bytes) {
    case .success(let engine):
        return OpaquePointer(Unmanaged.passRetained(engine).toOpaque())
    case .failure(let failure):
        error?.pointee = strdup(failure.description)
        return nil
    }
}

@_cdecl("flagstaff_engine_free")
public func flagstaff_engine_free(_ engine: OpaquePointer?) {
    guard let engine else { return }
    Unmanaged<Engine>.fromOpaque(UnsafeRawPointer(engine)).release()
}

@_cdecl("flagstaff_engine_version")
public func flagstaff_engine_version(_ engine: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let engine else { return nil }
    return UnsafePointer(borrow(engine).versionCString)
}

@_cdecl("flagstaff_evaluate")
public func flagstaff_evaluate(
    _ engine: OpaquePointer?, _ key: UnsafePointer<CChar>?, _ context: UnsafePointer<CChar>?, _ length: Int,
    _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> Int64 {
    guard let engine else { return 0 }
    let engineObject = borrow(engine)
    let answer = engineObject.evaluate(key ?? emptyKey, context: contextBytes(context, length), now: Engine.now())
    return copy(answer, of: engineObject, to: buffer, capacity: capacity)
}

@_cdecl("flagstaff_evaluate_alloc")
public func flagstaff_evaluate_alloc(
    _ engine: OpaquePointer?, _ key: UnsafePointer<CChar>?, _ context: UnsafePointer<CChar>?, _ length: Int
) -> UnsafeMutablePointer<CChar>? {
    guard let engine else { return nil }
    let engineObject = borrow(engine)
    let answer = engineObject.evaluate(key ?? emptyKey, context: contextBytes(context, length), now: Engine.now())
    return allocate(answer, of: engineObject)
}

@_cdecl("flagstaff_evaluate_all")
public func flagstaff_evaluate_all(
    _ engine: OpaquePointer?, _ context: UnsafePointer<CChar>?, _ length: Int, _ buffer: UnsafeMutablePointer<CChar>?,
    _ capacity: Int
) -> Int64 {
    guard let engine else { return 0 }
    let engineObject = borrow(engine)
    let answer = engineObject.evaluateAll(context: contextBytes(context, length), now: Engine.now())
    return copy(answer, of: engineObject, to: buffer, capacity: capacity)
}

@_cdecl("flagstaff_evaluate_all_alloc")
public func flagstaff_evaluate_all_alloc(
    _ engine: OpaquePointer?, _ context: UnsafePointer<CChar>?, _ length: Int
) -> UnsafeMutablePointer<CChar>? {
    guard let engine else { return nil }
    let engineObject = borrow(engine)
    return allocate(engineObject.evaluateAll(context: contextBytes(context, length), now: Engine.now()), of: engineObject)
}

@_cdecl("flagstaff_string_free")
public func flagstaff_string_free(_ string: UnsafeMutablePointer<CChar>?) {
    free(string)
}

// MARK: Helpers

/// The engine behind a handle, without retaining it: the caller keeps it alive until every
/// evaluation on it has returned (the header's rule).
private func borrow(_ engine: OpaquePointer) -> Engine {
    Unmanaged<Engine>.fromOpaque(UnsafeRawPointer(engine)).takeUnretainedValue()
}

/// What a NULL key means: "", which no flag has.
nonisolated(unsafe) private let emptyKey: UnsafePointer<CChar> = UnsafePointer(strdup("")!)

/// NULL or length 0 is the empty context.
private func contextBytes(_ context: UnsafePointer<CChar>?, _ length: Int) -> UnsafeBufferPointer<UInt8> {
    guard let context, length > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
    return UnsafeBufferPointer(start: UnsafeRawPointer(context).assumingMemoryBound(to: UInt8.self), count: length)
}

/// The header's buffer convention: the answer and a NUL when they fit, else nothing written
/// and the negative of the capacity needed.
private func copy(
    _ answer: Engine.Answer, of engine: Engine, to buffer: UnsafeMutablePointer<CChar>?, capacity: Int
) -> Int64 {
    engine.answers.withWriter { writer in
        let length = answer.length(writer)
        guard let buffer, capacity > length else { return -Int64(length + 1) }
        answer.write(writer, to: UnsafeMutableRawPointer(buffer)).storeBytes(of: 0, as: UInt8.self)
        return Int64(length)
    }
}

private func allocate(_ answer: Engine.Answer, of engine: Engine) -> UnsafeMutablePointer<CChar>? {
    engine.answers.withWriter { writer in
        let length = answer.length(writer)
        guard let string = malloc(length + 1) else { return nil }
        answer.write(writer, to: string).storeBytes(of: 0, as: UInt8.self)
        return string.assumingMemoryBound(to: CChar.self)
    }
}
