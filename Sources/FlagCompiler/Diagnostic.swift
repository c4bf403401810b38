import FlagModel
/// A position in a file of the flag repository. Lines and columns count from 1;
/// line 0 means the file as a whole.
public struct SourceLocation: Sendable, Hashable, Comparable {
    /// Path relative to the flag repository root, with `/` separators.
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int = 0, column: Int = 0) {
        self.file = file
        self.line = line
        self.column = column
    }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        if a.file != b.file { return UTF8Order.precedes(a.file, b.file) }
        if a.line != b.line { return a.line < b.line }
        return a.column < b.column
    }
}

/// One problem found in a flag repository.
public struct Diagnostic: Sendable, Hashable, Error, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case error, warning
    }

    public var code: DiagnosticCode
    public var message: String
    public var location: SourceLocation
    /// The likely fix, when there is one.
    public var hint: String?

    public var severity: Severity { code.severity }

    public init(_ code: DiagnosticCode, _ message: String, at location: SourceLocation, hint: String? = nil) {
        self.code = code
        self.message = message
        self.location = location
        self.hint = hint
    }

    /// `file:line:col: error[CODE]: message`
    public var description: String {
        "\(location.file):\(location.line):\(location.column): \(severity.rawValue)[\(code.rawValue)]: \(message)"
    }
}

/// Stable diagnostic codes. Never renumber one: tools and CI configurations match on them.
/// `docs/diagnostics.md` documents each.
public enum DiagnosticCode: String, Sendable, Hashable, CaseIterable {
    // MARK: Reading files (E0xx)
    /// The YAML does not parse.
    case yamlSyntax = "E001"
    /// A mapping has the same key twice.
    case duplicateKey = "E002"
    /// A file is larger than 1 MiB.
    case fileTooLarge = "E003"
    /// Collections nested deeper than 64 levels.
    case nestingTooDeep = "E004"
    /// The file is not valid UTF-8.
    case invalidUTF8 = "E005"
    /// A tab character used for indentation.
    case tabIndentation = "E006"
    /// Aliases expand to too many nodes (a "billion laughs" file).
    case aliasExpansion = "E007"
    /// YAML features the language does not use: several documents, tags, complex keys.
    case unsupportedYAML = "E008"
    /// A file could not be read.
    case unreadableFile = "E009"

    // MARK: Shape (E1xx)
    /// A field the language does not know.
    case unknownField = "E100"
    /// A field has the wrong type.
    case wrongType = "E101"
    /// A required field is missing.
    case missingField = "E102"
    /// A file name is not a valid key.
    case invalidKey = "E103"
    /// The same key is defined twice.
    case duplicateDefinition = "E104"
    /// A project folder that the manifest does not declare.
    case undeclaredProject = "E105"
    /// A YAML file in a place that means nothing.
    case strayFile = "E106"
    /// No `flagstaff.yaml` at the root.
    case missingManifest = "E107"
    /// A manifest `version` this Flagstaff does not read.
    case unsupportedVersion = "E108"
    /// A value that is not allowed for the field (an empty list where one is needed, a bad enum word).
    case invalidValue = "E109"

    // MARK: References (E2xx)
    case unknownVariant = "E200"
    case unknownSegment = "E201"
    case unknownFlag = "E202"
    case unknownEnvironment = "E203"
    case segmentCycle = "E205"
    case prerequisiteCycle = "E206"
    case unknownOperator = "E207"
    /// A flag that requires an archived flag (archived flags are not served).
    case requiresArchived = "E208"

    // MARK: Values (E3xx)
    /// A split weight below 0, or a split whose weights add up to 0.
    case invalidWeight = "E300"
    /// A rollout outside 0...100.
    case invalidRollout = "E301"
    /// A regular expression outside the RE2 subset, or one that does not parse.
    case invalidRegex = "E302"
    case invalidSemver = "E303"
    case invalidDate = "E304"
    case invalidCIDR = "E305"
    case invalidNumber = "E306"
    /// A variant value whose type is not the flag's type.
    case variantTypeMismatch = "E307"
    /// An operator given the wrong number of values.
    case operatorArity = "E308"
    /// A field that an environment overlay cannot change.
    case notOverlayable = "E309"
    /// A time that is not RFC 3339 with a zone, or outside 1970...2200.
    case invalidTime = "E310"
    /// A schedule or window out of order: steps not in time order, an end not after its start.
    case invalidSchedule = "E311"
    /// An `events` sample rate outside 0 < rate ≤ 1.
    case invalidSampleRate = "E312"

    // MARK: Context schema (E4xx)
    case undeclaredAttribute = "E400"
    case operatorTypeMismatch = "E401"
    case valueNotInEnum = "E402"
    case invalidContextType = "E403"
    /// A golden-test context that breaks the context schema.
    case contextSchemaViolation = "E404"

    // MARK: Golden tests (E5xx)
    case goldenTestFailed = "E500"

    // MARK: Warnings (W0xx)
    /// `expires` is in the past.
    case expired = "W001"
    /// `case_insensitive` on an operator that ignores it.
    case caseInsensitiveIgnored = "W002"
    /// A rule that can never match because an earlier rule always does.
    case unreachableRule = "W003"
    /// A schedule or window that is wholly in the past.
    case pastSchedule = "W004"
    /// A golden test without `at:` that passes now but will fail once a schedule moves on.
    case untimedGoldenTest = "W005"
    /// A golden test not checked because its flag is disabled in that environment.
    case disabledGoldenTest = "W006"

    public var severity: Diagnostic.Severity { rawValue.hasPrefix("W") ? .warning : .error }
}
