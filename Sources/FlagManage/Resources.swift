import FlagCompiler
import FlagModel
import FlagServer
import Foundation

/// The JSON of each resource. Keys are the identifiers (`storefront`,
/// `storefront:new-checkout`); what the Git files say is shown as they say it.
enum Resources {
    static func organization(_ manifest: Manifest) -> Value {
        .object([
            "id": .string(manifest.organization), "key": .string(manifest.organization),
            "name": .string(manifest.organizationName),
            "projects": .array(manifest.projects.map { .string($0.key) }),
        ])
    }

    static func project(_ project: Manifest.Project, _ manifest: Manifest) -> Value {
        .object([
            "id": .string(project.key), "key": .string(project.key), "name": .string(project.name),
            "description": project.description.map(Value.string) ?? .null,
            "organization": .string(manifest.organization),
            "environments": .array(manifest.environments.map { .string($0.key) }),
        ])
    }

    static func environment(_ environment: Manifest.Environment, served: [ActiveSnapshot]) -> Value {
        var snapshots: [String: Value] = [:]
        for active in served { snapshots[active.project] = Self.served(active) }
        return .object([
            "id": .string(environment.key), "key": .string(environment.key), "name": .string(environment.name),
            "description": environment.description.map(Value.string) ?? .null,
            "branch": .string(environment.branch), "production": .bool(environment.production),
            "write": .string(environment.writePolicy.rawValue), "served": .object(snapshots),
        ])
    }

    /// A flag as its file defines it, with its state in each environment that serves it.
    static func flag(project: String, _ flag: Flag, environments: [(String, Flag?)]) -> Value {
        var perEnvironment: [String: Value] = [:]
        for (environment, served) in environments {
            perEnvironment[environment] = served.map { .object(["enabled": .bool($0.enabled)]) } ?? .null
        }
        return .object([
            "id": .string("\(project):\(flag.key)"), "key": .string(flag.key), "project": .string(project),
            "name": .string(flag.name), "description": flag.description.map(Value.string) ?? .null,
            "type": .string(flag.type.rawValue), "owner": flag.owner.map(Value.string) ?? .null,
            "tags": .array(flag.tags.map(Value.string)), "expires": flag.expires.map(Value.string) ?? .null,
            "variants": .object(flag.variants), "archived": .bool(false),
            "environments": .object(perEnvironment),
        ])
    }

    /// An archived flag, from its file (it is in no snapshot).
    static func archivedFlag(project: String, key: String, _ file: Value) -> Value {
        .object([
            "id": .string("\(project):\(key)"), "key": .string(key), "project": .string(project),
            "name": file["name"] ?? .string(key), "description": file["description"] ?? .null,
            "type": file["type"] ?? .string("boolean"), "owner": file["owner"] ?? .null,
            "tags": file["tags"] ?? .array([]), "expires": file["expires"] ?? .null,
            "variants": file["variants"] ?? .object(["on": .bool(true), "off": .bool(false)]),
            "archived": .bool(true), "environments": .object([:]),
        ])
    }

    /// A flag's configuration in one environment: what its overlay and file make of it there.
    static func configuration(project: String, environment: String, _ flag: Flag) -> Value {
        .object([
            "flag": .string("\(project):\(flag.key)"), "project": .string(project),
            "environment": .string(environment), "enabled": .bool(flag.enabled),
            "offVariant": .string(flag.offVariant), "default": serve(flag.defaultServe),
            "rules": .int(Int64(flag.rules.count)),
            "requires": .array(
                flag.requires.map { .object(["flag": .string($0.flag), "variants": .array($0.variants.map(Value.string))]) }),
        ])
    }

    static func serve(_ serve: Serve) -> Value {
        switch serve {
        case .variant(let name): .string(name)
        case .split(let split):
            .object(["split": .object(Dictionary(uniqueKeysWithValues: split.weights.map { ($0.variant, Value.int(Int64($0.weight))) }))])
        }
    }

    static func segment(project: String, _ segment: Segment) -> Value {
        .object([
            "id": .string("\(project):\(segment.key)"), "key": .string(segment.key), "project": .string(project),
            "name": .string(segment.name), "include": .array(segment.include.map(Value.string)),
            "exclude": .array(segment.exclude.map(Value.string)), "conditions": .int(Int64(segment.when.count)),
        ])
    }

    static func served(_ active: ActiveSnapshot) -> Value {
        .object([
            "revision": .int(active.revision), "version": .string(active.version),
            "commit": active.snapshot.commit.map(Value.string) ?? .null,
        ])
    }
}
