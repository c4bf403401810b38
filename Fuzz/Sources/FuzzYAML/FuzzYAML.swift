// YAMLReader (the input checks, libyaml through CYAML, and the composer) on arbitrary bytes, with
// the limits every flag file is read with. Any input must give a node tree, nil or a diagnostic.
import FlagCompiler

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        _ = try YAMLReader.parse(bytes, file: "fuzz.yaml")
    } catch {
        // Lines and columns are 1-based, or 0 for a diagnostic about the whole file.
        if error.location.line < 0 || error.location.column < 0 || (error.location.line == 0) != (error.location.column == 0) {
            fatalError("diagnostic at line \(error.location.line), column \(error.location.column): \(error)")
        }
    }
    return 0
}
