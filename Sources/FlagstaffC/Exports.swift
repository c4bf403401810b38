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
    let answer = borrow(engine).evaluate(flagKey(key), context: contextBytes(context, length), now: Engine.now())
    return copy(answer, to: buffer, capacity: capacity)
}

@_cdecl("flagstaff_evaluate_alloc")
public func flagstaff_evaluate_alloc(
    _ engine: OpaquePointer?, _ key: UnsafePointer<CChar>?, _ context: UnsafePointer<CChar>?, _ length: Int
) -> UnsafeMutablePointer<CChar>? {
    guard let engine else { return nil }
    return allocate(borrow(engine).evaluate(flagKey(key), context: contextBytes(context, length), now: Engine.now()))
}

@_cdecl("flagstaff_evaluate_all")
public func flagstaff_evaluate_all(
    _ engine: OpaquePointer?, _ context: UnsafePointer<CChar>?, _ length: Int, _ buffer: UnsafeMutablePointer<CChar>?,
    _ capacity: Int
) -> Int64 {
    guard let engine else { return 0 }
    return copy(borrow(engine).evaluateAll(context: contextBytes(context, length), now: Engine.now()), to: buffer, capacity: capacity)
}

@_cdecl("flagstaff_evaluate_all_alloc")
public func flagstaff_evaluate_all_alloc(
    _ engine: OpaquePointer?, _ context: UnsafePointer<CChar>?, _ length: Int
) -> UnsafeMutablePointer<CChar>? {
    guard let engine else { return nil }
    return allocate(borrow(engine).evaluateAll(context: contextBytes(context, length), now: Engine.now()))
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

private func flagKey(_ key: UnsafePointer<CChar>?) -> String {
    key.map { String(cString: $0) } ?? ""
}

/// NULL or length 0 is the empty context.
private func contextBytes(_ context: UnsafePointer<CChar>?, _ length: Int) -> UnsafeBufferPointer<UInt8> {
    guard let context, length > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
    return UnsafeBufferPointer(start: UnsafeRawPointer(context).assumingMemoryBound(to: UInt8.self), count: length)
}

/// The header's buffer convention: the answer and a NUL when they fit, else nothing written
/// and the negative of the capacity needed.
private func copy(_ answer: [UInt8], to buffer: UnsafeMutablePointer<CChar>?, capacity: Int) -> Int64 {
    guard let buffer, capacity > answer.count else { return -Int64(answer.count + 1) }
    answer.withUnsafeBufferPointer { bytes in
        UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    }
    buffer[answer.count] = 0
    return Int64(answer.count)
}

private func allocate(_ answer: [UInt8]) -> UnsafeMutablePointer<CChar>? {
    guard let string = malloc(answer.count + 1)?.assumingMemoryBound(to: CChar.self) else { return nil }
    answer.withUnsafeBufferPointer { bytes in
        UnsafeMutableRawPointer(string).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    }
    string[answer.count] = 0
    return string
}
