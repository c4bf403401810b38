// The `matches` operator: regular expressions in the syntax of Rust's `regex` crate (RE2-like), matched by a Pike
// VM (Thompson NFA simulation) so that the time is linear in the text's length times the program's size, whatever
// the pattern and the text. No pattern and no attribute value can stall an evaluation.
//
// Matching allocates nothing for programs of up to 512 instructions: the thread lists live on the stack (8 bytes
// per instruction), and the text is read through its `unicodeScalars` view.

/// A compiled regular expression answering "does it match anywhere in this text?".
///
/// Syntax (Rust `regex` crate): literals, `.`, classes `[a-z]`, `[^…]`, nested classes and `&&`, `--`, `~~`,
/// POSIX classes `[[:alpha:]]` (ASCII), `\d \D \w \W \s \S` (Unicode-aware), `\pL`, `\p{Lu}`, `\P{…}`,
/// escapes `\n \t \r \a \f \v \xHH \x{…} \uHHHH \UHHHHHHHH` and escaped punctuation, groups `(…)`, `(?:…)`,
/// `(?P<name>…)`, `(?<name>…)`, alternation `|`, quantifiers `* + ? {n} {n,} {n,m}` and their lazy forms,
/// anchors `^ $ \A \z`, word boundaries `\b \B \< \> \b{start} \b{end} \b{start-half} \b{end-half}`, and flags
/// `i m s x U u R`, inline `(?i)` or scoped `(?i-s:…)`.
///
/// Rejected at compile time, with a message naming the construct: look-around, atomic groups, backreferences,
/// possessive quantifiers, recursion, Unicode scripts (`\p{Greek}`), repetition counts above 1000, patterns
/// longer than 4096 bytes or compiling to more than 10,000 instructions, and anything that does not parse. With
/// Unicode mode off (`(?-u)`), `.`, `\W \D \S`, `\p{…}` and classes reaching beyond ASCII are rejected too, as
/// Rust rejects them for text.
public struct RegexMatcher: Sendable {
    /// Why a pattern was rejected, and where.
    public struct CompileError: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong, naming the construct.
        public var message: String
        /// UTF-8 byte offset in the pattern where the problem starts.
        public var offset: Int

        public init(message: String, offset: Int) {
            self.message = message
            self.offset = offset
        }

        public var description: String { "invalid regular expression at offset \(offset): \(message)" }
    }

    /// The longest pattern accepted, in UTF-8 bytes.
    public static let maxPatternLength = 4096

    /// The pattern as written.
    public let pattern: String
    /// Whether matching ignores case (the `caseInsensitive` option; `(?i)` inside the pattern also works).
    public let caseInsensitive: Bool
    let program: RegexProgram

    /// Compiles `pattern`. `caseInsensitive` starts the pattern with the `i` flag set.
    public init(pattern: String, caseInsensitive: Bool = false) throws(CompileError) {
        let length = pattern.utf8.count
        guard length <= RegexMatcher.maxPatternLength else {
            throw CompileError(
                message: "pattern is \(length) bytes long; the limit is \(RegexMatcher.maxPatternLength)",
                offset: RegexMatcher.maxPatternLength)
        }
        var parser = RegexParser(pattern: pattern, caseInsensitive: caseInsensitive)
        let node = try parser.parse()
        program = try RegexProgram.compile(node, patternLength: length)
        self.pattern = pattern
        self.caseInsensitive = caseInsensitive
    }

    /// The number of VM instructions the pattern compiled to.
    public var programSize: Int { program.instructions.count }

    /// Whether the pattern matches anywhere in `text` (an unanchored search, unless the pattern anchors itself).
    ///
    /// Scratch space is 8 bytes per instruction: on the stack up to 512 instructions, on the heap beyond.
    public func matches(_ text: String) -> Bool {
        let count = program.instructions.count * PikeVM.wordsPerInstruction
        if count * MemoryLayout<UInt16>.stride <= 1024 {
            // Small enough for `withUnsafeTemporaryAllocation` to use the stack.
            return withUnsafeTemporaryAllocation(of: UInt16.self, capacity: count) { memory in
                memory.initialize(repeating: 0)
                return run(text, memory)
            }
        }
        if count <= PikeVM.StackBuffer.capacity {
            var buffer = PikeVM.StackBuffer.zero
            return withUnsafeMutableBytes(of: &buffer) { raw in
                run(text, raw.bindMemory(to: UInt16.self))
            }
        }
        return withUnsafeTemporaryAllocation(of: UInt16.self, capacity: count) { memory in
            memory.initialize(repeating: 0)
            return run(text, memory)
        }
    }

    private func run(_ text: String, _ memory: UnsafeMutableBufferPointer<UInt16>) -> Bool {
        program.instructions.withUnsafeBufferPointer { instructions in
            program.sets.withUnsafeBufferPointer { sets in
                program.bounds.withUnsafeBufferPointer { bounds in
                    var vm = PikeVM(
                        instructions: instructions, sets: sets, bounds: bounds, memory: memory,
                        wordSet: program.wordSet)
                    return vm.run(text.unicodeScalars, anchored: program.anchoredAtStart)
                }
            }
        }
    }
}

/// "No scalar": before the start or past the end of the text.
private let none = UInt32.max

/// The Thompson NFA simulation over borrowed program buffers and zeroed scratch memory.
///
/// Each step expands the threads waiting at the current position through their non-consuming instructions; a
/// consuming instruction is tested against the current scalar right away and, if it accepts, queues the next
/// instruction for the following position. Every instruction is visited at most once per position, so a step costs
/// at most the program's size.
private struct PikeVM {
    /// Scratch words (UInt16) per instruction: visit marks, two thread lists, the closure stack.
    static let wordsPerInstruction = 4

    /// 4 KiB of stack: scratch for programs of up to 512 instructions without touching the heap.
    struct StackBuffer {
        typealias Row = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                         UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        var rows: (Row, Row, Row, Row, Row, Row, Row, Row, Row, Row, Row, Row, Row, Row, Row, Row,
                   Row, Row, Row, Row, Row, Row, Row, Row, Row, Row, Row, Row, Row, Row, Row, Row)

        static let capacity = MemoryLayout<StackBuffer>.size / MemoryLayout<UInt16>.stride
        static var zero: StackBuffer {
            let row: Row = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            return StackBuffer(rows: (row, row, row, row, row, row, row, row, row, row, row, row, row, row, row, row,
                                      row, row, row, row, row, row, row, row, row, row, row, row, row, row, row, row))
        }
    }

    let instructions: UnsafeBufferPointer<RegexInstruction>
    let sets: UnsafeBufferPointer<RegexSetInfo>
    let bounds: UnsafeBufferPointer<UInt32>
    let wordSet: Int32
    let size: Int
    /// `marks[pc] == generation` once pc has been visited at this position.
    let marks: UnsafeMutablePointer<UInt16>
    /// Instructions waiting at this position, and those queued for the next one.
    var pending: UnsafeMutablePointer<UInt16>
    var next: UnsafeMutablePointer<UInt16>
    var nextCount = 0
    let stack: UnsafeMutablePointer<UInt16>
    var generation: UInt16 = 0

    init(
        instructions: UnsafeBufferPointer<RegexInstruction>, sets: UnsafeBufferPointer<RegexSetInfo>,
        bounds: UnsafeBufferPointer<UInt32>, memory: UnsafeMutableBufferPointer<UInt16>, wordSet: Int32
    ) {
        self.instructions = instructions
        self.sets = sets
        self.bounds = bounds
        self.wordSet = wordSet
        let n = instructions.count
        size = n
        let base = memory.baseAddress!
        marks = base
        pending = base + n
        next = base + 2 * n
        stack = base + 3 * n
    }

    mutating func run(_ text: String.UnicodeScalarView, anchored: Bool) -> Bool {
        var iterator = text.makeIterator()
        var previous = none
        var scalar = iterator.next()?.value ?? none
        var pendingCount = 0
        var atStart = true
        while true {
            if generation == UInt16.max {
                marks.update(repeating: 0, count: size)
                generation = 0
            }
            generation += 1
            nextCount = 0
            for k in 0..<pendingCount {
                if addThread(pending[k], previous, scalar) { return true }
            }
            if !anchored || atStart {
                if addThread(0, previous, scalar) { return true }
            }
            if scalar == none || (anchored && nextCount == 0) { return false }
            swap(&pending, &next)
            pendingCount = nextCount
            previous = scalar
            scalar = iterator.next()?.value ?? none
            atStart = false
        }
    }

    /// Follows `start` through everything reachable without consuming text, stepping the consuming instructions
    /// it reaches over `scalar`. True if it reaches `match`.
    @inline(__always)
    mutating func addThread(_ start: UInt16, _ previous: UInt32, _ scalar: UInt32) -> Bool {
        if marks[Int(start)] == generation { return false }
        marks[Int(start)] = generation
        stack[0] = start
        var depth = 1
        while depth > 0 {
            depth -= 1
            let pc = Int(stack[depth])
            let instruction = instructions[pc]
            switch instruction.op {
            case .match:
                return true
            case .jump:
                push(instruction.a, &depth)
            case .split:
                push(instruction.b, &depth)
                push(instruction.a, &depth)
            case .assert:
                if check(instruction.a, previous, scalar) { push(Int32(pc + 1), &depth) }
            case .scalar:
                if scalar == UInt32(bitPattern: instruction.a) { queue(pc + 1) }
            case .set:
                if contains(Int(instruction.a), scalar) { queue(pc + 1) }
            case .any:
                if scalar != none { queue(pc + 1) }
            }
        }
        return false
    }

    @inline(__always)
    mutating func queue(_ pc: Int) {
        next[nextCount] = UInt16(truncatingIfNeeded: pc)
        nextCount += 1
    }

    @inline(__always)
    func push(_ pc: Int32, _ depth: inout Int) {
        if marks[Int(pc)] == generation { return }
        marks[Int(pc)] = generation
        stack[depth] = UInt16(truncatingIfNeeded: pc)
        depth += 1
    }

    @inline(__always)
    func contains(_ set: Int, _ scalar: UInt32) -> Bool {
        let info = sets[set]
        if scalar < 64 { return info.asciiLow & (1 << UInt64(scalar)) != 0 }
        if scalar < 128 { return info.asciiHigh & (1 << UInt64(scalar - 64)) != 0 }
        if scalar == none { return false }
        var lo = 0
        var hi = Int(info.count) / 2
        let base = Int(info.start)
        while lo < hi {
            let mid = (lo + hi) / 2
            if scalar < bounds[base + 2 * mid] {
                hi = mid
            } else if scalar > bounds[base + 2 * mid + 1] {
                lo = mid + 1
            } else {
                return true
            }
        }
        return false
    }

    func isWord(_ scalar: UInt32) -> Bool {
        if scalar == none { return false }
        if scalar < 128 { return isASCIIWord(scalar) }
        return wordSet >= 0 && contains(Int(wordSet), scalar)
    }

    func isASCIIWord(_ scalar: UInt32) -> Bool {
        (scalar >= 0x30 && scalar <= 0x39) || (scalar >= 0x41 && scalar <= 0x5A) || scalar == 0x5F
            || (scalar >= 0x61 && scalar <= 0x7A)
    }

    func check(_ raw: Int32, _ previous: UInt32, _ scalar: UInt32) -> Bool {
        guard let assertion = RegexAssertion(rawValue: UInt8(truncatingIfNeeded: raw)) else { return false }
        let lf: UInt32 = 0x0A
        let cr: UInt32 = 0x0D
        switch assertion {
        case .textStart: return previous == none
        case .textEnd: return scalar == none
        case .lineStart: return previous == none || previous == lf
        case .lineEnd: return scalar == none || scalar == lf
        case .lineStartCRLF: return previous == none || previous == lf || (previous == cr && scalar != lf)
        case .lineEndCRLF: return scalar == none || scalar == cr || (scalar == lf && previous != cr)
        case .wordBoundary: return isWord(previous) != isWord(scalar)
        case .notWordBoundary: return isWord(previous) == isWord(scalar)
        case .wordStart: return !isWord(previous) && isWord(scalar)
        case .wordEnd: return isWord(previous) && !isWord(scalar)
        case .wordStartHalf: return !isWord(previous)
        case .wordEndHalf: return !isWord(scalar)
        case .asciiWordBoundary: return asciiWord(previous) != asciiWord(scalar)
        case .asciiNotWordBoundary: return asciiWord(previous) == asciiWord(scalar)
        case .asciiWordStart: return !asciiWord(previous) && asciiWord(scalar)
        case .asciiWordEnd: return asciiWord(previous) && !asciiWord(scalar)
        case .asciiWordStartHalf: return !asciiWord(previous)
        case .asciiWordEndHalf: return !asciiWord(scalar)
        }
    }

    func asciiWord(_ scalar: UInt32) -> Bool { scalar != none && scalar < 128 && isASCIIWord(scalar) }
}
