import FlagModel

// The `/api/client/features` payload, read into plain structs. A field of the wrong shape is
// an error naming the feature and the field: Unleash's own parser would reject the payload.

struct UFeature {
    var name: String
    var description: String?
    var enabled: Bool
    var project: String?
    var type: String?
    /// Empty when the key is missing: either way the flag is on for everyone.
    var strategies: [UStrategy]
    var variants: [UVariant]
    var dependencies: [UDependency]
}

struct UStrategy {
    var name: String
    var parameters: [String: String]
    var constraints: [UConstraint]
    var segments: [Int]
    /// `nil`: no `variants` key.
    var variants: [UVariant]?
}

struct UConstraint {
    var contextName: String
    var op: String
    var values: [String]?
    var value: String?
    var inverted: Bool
    var caseInsensitive: Bool
}

struct UVariant {
    var name: String
    var weight: Int
    var stickiness: String?
    var payload: UPayload?
    var overrides: [UOverride]
}

struct UPayload: Hashable {
    var type: String
    var value: String
}

struct UOverride {
    var contextName: String
    var values: [String]
}

struct UDependency {
    var feature: String
    var enabled: Bool
    var variants: [String]
}

struct USegment {
    var id: Int
    var name: String?
    var constraints: [UConstraint]
}

struct UPayloadDocument {
    var features: [UFeature]
    var segments: [USegment]
}

/// Reads fields of one JSON object, naming the feature and the path in errors.
struct FieldReader {
    let feature: String
    let path: String
    let object: [String: Value]

    init(_ value: Value, feature: String, path: String) throws(UnleashImport.ImportError) {
        guard case .object(let object) = value else {
            throw UnleashImport.ImportError(
                feature: feature, field: path, message: "expected an object, found \(value.kindName)")
        }
        self.feature = feature
        self.path = path
        self.object = object
    }

    func field(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    func fail(_ key: String, _ message: String) -> UnleashImport.ImportError {
        UnleashImport.ImportError(feature: feature, field: field(key), message: message)
    }

    /// A present, non-null value.
    func present(_ key: String) -> Value? {
        guard let v = object[key], v != .null else { return nil }
        return v
    }

    func string(_ key: String) throws(UnleashImport.ImportError) -> String? {
        guard let v = present(key) else { return nil }
        guard case .string(let s) = v else { throw fail(key, "expected a string, found \(v.kindName) \(v)") }
        return s
    }

    func requiredString(_ key: String) throws(UnleashImport.ImportError) -> String {
        guard let s = try string(key) else { throw fail(key, "is missing") }
        return s
    }

    func bool(_ key: String) throws(UnleashImport.ImportError) -> Bool? {
        guard let v = present(key) else { return nil }
        guard case .bool(let b) = v else { throw fail(key, "expected true or false, found \(v.kindName) \(v)") }
        return b
    }

    func int(_ key: String) throws(UnleashImport.ImportError) -> Int? {
        guard let v = present(key) else { return nil }
        switch v {
        case .int(let i) where i >= Int64(Int32.min) && i <= Int64(Int32.max): return Int(i)
        case .double(let d) where d == d.rounded() && abs(d) <= Double(Int32.max): return Int(d)
        default: throw fail(key, "expected a 32-bit integer, found \(v.kindName) \(v)")
        }
    }

    func array(_ key: String) throws(UnleashImport.ImportError) -> [Value]? {
        guard let v = present(key) else { return nil }
        guard case .array(let items) = v else { throw fail(key, "expected a list, found \(v.kindName)") }
        return items
    }

    func strings(_ key: String) throws(UnleashImport.ImportError) -> [String]? {
        guard let items = try array(key) else { return nil }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item else {
                throw UnleashImport.ImportError(
                    feature: feature, field: field(key) + "[\(i)]",
                    message: "expected a string, found \(item.kindName) \(item)")
            }
            out.append(s)
        }
        return out
    }
}

enum PayloadReader {
    typealias ImportError = UnleashImport.ImportError

    static func document(_ payload: Value) throws(ImportError) -> UPayloadDocument {
        let root = try FieldReader(payload, feature: "", path: "")
        guard let featureValues = try root.array("features") else {
            throw ImportError(
                feature: "", field: "features",
                message: "is missing: expected the payload of Unleash's /api/client/features")
        }
        var features: [UFeature] = []
        for (i, value) in featureValues.enumerated() {
            features.append(try feature(value, index: i))
        }
        var segments: [USegment] = []
        for (i, value) in (try root.array("segments") ?? []).enumerated() {
            segments.append(try segment(value, index: i))
        }
        return UPayloadDocument(features: features, segments: segments)
    }

    static func feature(_ value: Value, index: Int) throws(ImportError) -> UFeature {
        let probe = try FieldReader(value, feature: "features[\(index)]", path: "")
        let name = try probe.requiredString("name")
        let f = try FieldReader(value, feature: name, path: "")
        guard let enabled = try f.bool("enabled") else { throw f.fail("enabled", "is missing") }
        var strategies: [UStrategy] = []
        for (i, s) in (try f.array("strategies") ?? []).enumerated() {
            strategies.append(try strategy(s, feature: name, path: "strategies[\(i)]"))
        }
        var variants: [UVariant] = []
        for (i, v) in (try f.array("variants") ?? []).enumerated() {
            variants.append(try variant(v, feature: name, path: "variants[\(i)]", strategyVariant: false))
        }
        var dependencies: [UDependency] = []
        for (i, d) in (try f.array("dependencies") ?? []).enumerated() {
            let r = try FieldReader(d, feature: name, path: "dependencies[\(i)]")
            dependencies.append(
                UDependency(
                    feature: try r.requiredString("feature"), enabled: try r.bool("enabled") ?? true,
                    variants: try r.strings("variants") ?? []))
        }
        return UFeature(
            name: name, description: try f.string("description"), enabled: enabled, project: try f.string("project"),
            type: try f.string("type"), strategies: strategies, variants: variants, dependencies: dependencies)
    }

    static func strategy(_ value: Value, feature: String, path: String) throws(ImportError) -> UStrategy {
        let s = try FieldReader(value, feature: feature, path: path)
        var parameters: [String: String] = [:]
        if let p = s.present("parameters") {
            let pr = try FieldReader(p, feature: feature, path: s.field("parameters"))
            for key in pr.object.keys {
                if let text = try pr.string(key) { parameters[key] = text }
            }
        }
        var constraints: [UConstraint] = []
        for (i, c) in (try s.array("constraints") ?? []).enumerated() {
            constraints.append(try constraint(c, feature: feature, path: s.field("constraints") + "[\(i)]"))
        }
        var segments: [Int] = []
        for (i, id) in (try s.array("segments") ?? []).enumerated() {
            guard case .int(let n) = id, n >= Int64(Int32.min), n <= Int64(Int32.max) else {
                throw ImportError(
                    feature: feature, field: s.field("segments") + "[\(i)]",
                    message: "expected a segment id (an integer), found \(id.kindName) \(id)")
            }
            segments.append(Int(n))
        }
        var variants: [UVariant]?
        if let items = try s.array("variants") {
            variants = []
            for (i, v) in items.enumerated() {
                variants!.append(
                    try variant(v, feature: feature, path: s.field("variants") + "[\(i)]", strategyVariant: true))
            }
        }
        return UStrategy(
            name: try s.requiredString("name"), parameters: parameters, constraints: constraints, segments: segments,
            variants: variants)
    }

    static func constraint(_ value: Value, feature: String, path: String) throws(ImportError) -> UConstraint {
        let c = try FieldReader(value, feature: feature, path: path)
        return UConstraint(
            contextName: try c.requiredString("contextName"), op: try c.requiredString("operator"),
            values: try c.strings("values"), value: try c.string("value"), inverted: try c.bool("inverted") ?? false,
            caseInsensitive: try c.bool("caseInsensitive") ?? false)
    }

    static func variant(
        _ value: Value, feature: String, path: String, strategyVariant: Bool
    ) throws(ImportError) -> UVariant {
        let v = try FieldReader(value, feature: feature, path: path)
        guard let weight = try v.int("weight") else { throw v.fail("weight", "is missing") }
        if weight < 0 { throw v.fail("weight", "is negative (\(weight))") }
        var payload: UPayload?
        if let p = v.present("payload") {
            let pr = try FieldReader(p, feature: feature, path: v.field("payload"))
            payload = UPayload(type: try pr.requiredString("type"), value: try pr.requiredString("value"))
        }
        var overrides: [UOverride] = []
        if !strategyVariant {
            for (i, o) in (try v.array("overrides") ?? []).enumerated() {
                let r = try FieldReader(o, feature: feature, path: v.field("overrides") + "[\(i)]")
                overrides.append(
                    UOverride(contextName: try r.requiredString("contextName"), values: try r.strings("values") ?? []))
            }
        }
        return UVariant(
            name: try v.requiredString("name"), weight: weight, stickiness: try v.string("stickiness"),
            payload: payload, overrides: overrides)
    }

    static func segment(_ value: Value, index: Int) throws(ImportError) -> USegment {
        let s = try FieldReader(value, feature: "", path: "segments[\(index)]")
        guard let id = try s.int("id") else { throw s.fail("id", "is missing") }
        var constraints: [UConstraint] = []
        for (i, c) in (try s.array("constraints") ?? []).enumerated() {
            constraints.append(try constraint(c, feature: "", path: s.field("constraints") + "[\(i)]"))
        }
        return USegment(id: id, name: try s.string("name"), constraints: constraints)
    }
}
