import FlagModel
import FlagStore
import Hummingbird

/// PostgreSQL's numeric ids (SPEC §14): a path may name a resource by its id instead of its
/// key, and reads carry the id beside the key. Without PostgreSQL (or while it is down)
/// there are none: paths take keys, and the ids read `null`.
extension ManagementAPI {
    static let numericParameters: [String: NumericIDs.Kind] = [
        "organizationId": .organization, "projectId": .project, "environmentId": .environment, "flagId": .flag,
        "segmentId": .segment,
    ]

    /// A path parameter, with a numeric id turned into the key it names (404 when none). A
    /// key made of digits (`2024`) that names something is taken as that key.
    func param(_ context: BasicRequestContext, _ name: String) async throws(ManageError) -> String {
        let value = try Self.parameter(context, name)
        guard let kind = Self.numericParameters[name], database.url != nil, !value.isEmpty,
            value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let id = Int64(value)
        else { return value }
        let manifest = try await manifest()
        let isKey: Bool
        switch kind {
        case .organization: isKey = manifest.organization == value
        case .project: isKey = manifest.projects.contains { $0.key == value }
        case .environment: isKey = manifest.environment(value) != nil
        case .flag:
            let exists = flagExists(manifest)
            isKey = manifest.projects.contains { exists($0.key, value) }
        case .segment:
            let exists = segmentExists(manifest)
            isKey = manifest.projects.contains { exists($0.key, value) }
        }
        if isKey { return value }
        let database = self.database
        let key = try await blocking { () throws(ManageError) -> String? in
            try database.use { connection throws(StoreError) in try NumericIDs.key(of: kind, id: id, on: connection) }
        }
        guard let key else { throw ManageError.notFound("no \(kind.rawValue) with id \(id)") }
        return key
    }

    /// Ids by key, for responses; empty without PostgreSQL or when it fails.
    func numericIDs(_ kind: NumericIDs.Kind, _ keys: [String]) async -> [String: Int64] {
        guard database.url != nil, !keys.isEmpty else { return [:] }
        let database = self.database
        return (try? await blocking { () throws(ManageError) -> [String: Int64] in
            try database.use { connection throws(StoreError) in try NumericIDs.ids(of: kind, keys: keys, on: connection) }
        }) ?? [:]
    }

    /// `numericId` set on each object by its `id`.
    func numbered(_ kind: NumericIDs.Kind, _ items: [Value]) async -> [Value] {
        let ids = await numericIDs(kind, items.compactMap { $0["id"]?.stringValue })
        return items.map { item in
            guard case .object(var object) = item, let id = object["id"]?.stringValue else { return item }
            object["numericId"] = ids[id].map(Value.int) ?? .null
            return .object(object)
        }
    }

    /// `numericIds` ({scope: id}) on each object, for environments (per project) and segments
    /// (per environment), which PostgreSQL keeps one row of per scope.
    func scopedNumbers(_ kind: NumericIDs.Kind, _ items: [Value], scopes: [String]) async -> [Value] {
        func key(_ id: String, _ scope: String) -> String { kind == .environment ? "\(scope)/\(id)" : "\(id)/\(scope)" }
        var wanted: [String] = []
        for item in items {
            guard let id = item["id"]?.stringValue else { continue }
            for scope in scopes { wanted.append(key(id, scope)) }
        }
        let ids = await numericIDs(kind, wanted)
        return items.map { item in
            guard case .object(var object) = item, let id = object["id"]?.stringValue else { return item }
            var numbers: [String: Value] = [:]
            for scope in scopes { if let number = ids[key(id, scope)] { numbers[scope] = .int(number) } }
            object["numericIds"] = .object(numbers)
            return .object(object)
        }
    }

    /// A list answer with numbers added to its items.
    func numberedList(_ kind: NumericIDs.Kind, _ list: Value, scopes: [String]? = nil) async -> Value {
        guard case .object(var object) = list, case .array(let items)? = object["items"] else { return list }
        if let scopes {
            object["items"] = .array(await scopedNumbers(kind, items, scopes: scopes))
        } else {
            object["items"] = .array(await numbered(kind, items))
        }
        return .object(object)
    }
}
