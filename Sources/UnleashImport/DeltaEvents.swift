import FlagModel

extension UnleashImport {
    /// Applies a delta-API document (`{ events: [...] }`) in order and returns the features
    /// payload it describes: `{ version: 1, features: [...], segments: [...] }`.
    ///
    /// Events: `hydration` (replaces everything with its `features` and `segments`),
    /// `feature-updated` (adds or replaces `feature`, by name), `feature-removed`
    /// (`featureName`), `segment-updated` (adds or replaces `segment`, by id) and
    /// `segment-removed` (`segmentId`). Features keep the order they were first added in.
    public static func applyDeltaEvents(_ state: Value) throws -> Value {
        try applyDelta(state)
    }

    static func applyDelta(_ state: Value) throws(ImportError) -> Value {
        let root = try FieldReader(state, feature: "", path: "")
        guard let events = try root.array("events") else {
            throw ImportError(feature: "", field: "events", message: "is missing: expected a delta-API document")
        }
        var features: [Value] = []
        var segments: [Value] = []
        func featureName(_ v: Value) -> String? { v["name"]?.stringValue }
        func segmentID(_ v: Value) -> Value? { v["id"] }
        for (i, event) in events.enumerated() {
            let e = try FieldReader(event, feature: "", path: "events[\(i)]")
            let type = try e.requiredString("type")
            switch type {
            case "hydration":
                features = try e.array("features") ?? []
                segments = try e.array("segments") ?? []
            case "feature-updated":
                guard let feature = e.present("feature"), let name = featureName(feature) else {
                    throw e.fail("feature", "is missing or has no name")
                }
                if let at = features.firstIndex(where: { featureName($0) == name }) {
                    features[at] = feature
                } else {
                    features.append(feature)
                }
            case "feature-removed":
                let name = try e.requiredString("featureName")
                features.removeAll { featureName($0) == name }
            case "segment-updated":
                guard let segment = e.present("segment"), let id = segmentID(segment) else {
                    throw e.fail("segment", "is missing or has no id")
                }
                if let at = segments.firstIndex(where: { segmentID($0) == id }) {
                    segments[at] = segment
                } else {
                    segments.append(segment)
                }
            case "segment-removed":
                guard let id = e.present("segmentId") else { throw e.fail("segmentId", "is missing") }
                segments.removeAll { segmentID($0) == id }
            default:
                throw e.fail("type", "unknown delta event type '\(type)'")
            }
        }
        return .object(["version": 1, "features": .array(features), "segments": .array(segments)])
    }
}
