// Compiles a parsed regular expression (RegexSyntax.swift) to a Thompson NFA program for the Pike VM in
// RegexMatcher.swift. Counted repetitions are expanded, so the program size is checked as it grows.

/// One instruction of a compiled regular expression.
struct RegexInstruction: Sendable {
    enum Op: UInt8, Sendable {
        /// Consume a scalar equal to `a`.
        case scalar
        /// Consume a scalar in set number `a`.
        case set
        /// Consume any scalar.
        case any
        /// Continue at both `a` and `b`.
        case split
        /// Continue at `a`.
        case jump
        /// Continue at the next instruction if assertion `a` holds here.
        case assert
        /// The pattern has matched.
        case match
    }

    var op: Op
    var a: Int32
    var b: Int32
}

/// A set of scalars as the VM tests it: an ASCII bitmap and a slice of sorted range bounds.
struct RegexSetInfo: Sendable {
    var asciiLow: UInt64
    var asciiHigh: UInt64
    /// Index of the first bound in `RegexProgram.bounds`.
    var start: Int32
    /// Number of bounds (twice the number of ranges).
    var count: Int32
}

/// A compiled program: instructions, the sets they test, and facts the VM uses to skip work.
struct RegexProgram: Sendable {
    /// The most instructions a pattern may compile to, so that matching stays cheap per scalar of text.
    /// It must stay below 65,536: the VM keeps program counters in `UInt16`.
    static let maxInstructions = 10_000

    var instructions: [RegexInstruction] = []
    var sets: [RegexSetInfo] = []
    var bounds: [UInt32] = []
    /// Set number of Unicode `\w`, when a word-boundary assertion needs it; -1 otherwise.
    var wordSet: Int32 = -1
    /// Whether every match must begin at the start of the text.
    var anchoredAtStart = false

    private var setNumbers: [ScalarSet: Int32] = [:]

    typealias Failure = RegexMatcher.CompileError

    /// Compiles `node`; `patternLength` is used as the offset of a size error.
    static func compile(_ node: RegexNode, patternLength: Int) throws(Failure) -> RegexProgram {
        var program = RegexProgram()
        program.anchoredAtStart = node.isAnchoredAtStart
        try program.emit(node, patternLength: patternLength)
        try program.append(RegexInstruction(op: .match, a: 0, b: 0), patternLength: patternLength)
        program.setNumbers = [:]
        return program
    }

    private mutating func append(_ instruction: RegexInstruction, patternLength: Int) throws(Failure) {
        guard instructions.count < RegexProgram.maxInstructions else {
            throw Failure(
                message: "pattern is too large: it compiles to more than \(RegexProgram.maxInstructions) "
                    + "instructions (counted repetitions such as `{1000}` multiply the size of what they repeat)",
                offset: patternLength)
        }
        instructions.append(instruction)
    }

    private mutating func number(of set: ScalarSet) -> Int32 {
        if let number = setNumbers[set] { return number }
        let (low, high) = set.asciiBitmap
        let number = Int32(sets.count)
        sets.append(RegexSetInfo(
            asciiLow: low, asciiHigh: high, start: Int32(bounds.count), count: Int32(set.bounds.count)))
        bounds.append(contentsOf: set.bounds)
        setNumbers[set] = number
        return number
    }

    private mutating func emit(_ node: RegexNode, patternLength: Int) throws(Failure) {
        switch node {
        case .empty:
            break
        case .set(let set):
            if let scalar = set.singleScalar {
                try append(RegexInstruction(op: .scalar, a: Int32(scalar), b: 0), patternLength: patternLength)
            } else if set == .all {
                try append(RegexInstruction(op: .any, a: 0, b: 0), patternLength: patternLength)
            } else {
                let number = number(of: set)
                try append(RegexInstruction(op: .set, a: number, b: 0), patternLength: patternLength)
            }
        case .assertion(let assertion):
            if assertion.usesUnicodeWord && wordSet < 0 {
                wordSet = number(of: UnicodeTables.shared.word)
            }
            try append(RegexInstruction(op: .assert, a: Int32(assertion.rawValue), b: 0), patternLength: patternLength)
        case .concat(let items):
            for item in items { try emit(item, patternLength: patternLength) }
        case .alternation(let branches):
            var exits: [Int] = []
            for (k, branch) in branches.enumerated() {
                if k == branches.count - 1 {
                    try emit(branch, patternLength: patternLength)
                } else {
                    let split = instructions.count
                    try append(RegexInstruction(op: .split, a: Int32(split + 1), b: 0), patternLength: patternLength)
                    try emit(branch, patternLength: patternLength)
                    exits.append(instructions.count)
                    try append(RegexInstruction(op: .jump, a: 0, b: 0), patternLength: patternLength)
                    instructions[split].b = Int32(instructions.count)
                }
            }
            for exit in exits { instructions[exit].a = Int32(instructions.count) }
        case .repetition(let inner, let min, let max):
            if let max {
                for _ in 0..<min { try emit(inner, patternLength: patternLength) }
                // x{min,max}: each optional copy may be skipped, which ends the repetition.
                var skips: [Int] = []
                for _ in min..<max {
                    skips.append(instructions.count)
                    try append(RegexInstruction(op: .split, a: Int32(instructions.count + 1), b: 0),
                               patternLength: patternLength)
                    try emit(inner, patternLength: patternLength)
                }
                for skip in skips { instructions[skip].b = Int32(instructions.count) }
            } else if min == 0 {
                // x*: L: split(body, out); body; jump L
                let loop = instructions.count
                try append(RegexInstruction(op: .split, a: Int32(loop + 1), b: 0), patternLength: patternLength)
                try emit(inner, patternLength: patternLength)
                try append(RegexInstruction(op: .jump, a: Int32(loop), b: 0), patternLength: patternLength)
                instructions[loop].b = Int32(instructions.count)
            } else {
                // x{n,}: n-1 copies, then L: x; split(L, out)
                for _ in 0..<(min - 1) { try emit(inner, patternLength: patternLength) }
                let loop = instructions.count
                try emit(inner, patternLength: patternLength)
                try append(RegexInstruction(op: .split, a: Int32(loop), b: Int32(instructions.count + 1)),
                           patternLength: patternLength)
            }
        }
    }
}
