import FlagModel

// What the engine's figures are measured on, shared by every benchmark and the profiling loop
// so that their numbers are about the same thing.

/// A flag with 3 rules, 5 conditions and a split: the figure the engine is held to.
public let targetFlag = """
    rules:
      - name: staff
        when: [ { attribute: email, op: ends_with, values: ["@acme.com"], case_insensitive: true } ]
        serve: on
      - name: paying customers down under
        when:
          - { attribute: plan, op: in, values: [pro, enterprise] }
          - { attribute: country, op: in, values: [NZ, AU] }
        serve: on
      - name: adults on new apps
        when:
          - { attribute: app_version, op: semver_gte, value: 2.0.0 }
          - { attribute: age, op: num_gte, value: 18 }
        rollout: 50
        serve: on
    default:
      split: { off: 50, on: 50 }
    """

/// A context that fails every rule of `targetFlag` late, so every condition runs and the split decides.
public let targetContext: [String: Value] = [
    "targetingKey": "user-42", "email": "kim@example.com", "plan": "pro", "country": "FR",
    "app_version": "1.9.3", "age": 30,
]

/// A manifest with one project (`shop`) and one environment (`production`).
public let oneEnvironmentManifest = """
    version: 1
    organization: bench
    projects: { shop: {} }
    environments:
      production: { branch: main, production: true }
    """
