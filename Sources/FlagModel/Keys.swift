/// Keys of organizations, projects, environments, flags and segments (SPEC §1):
/// `^[a-z0-9][a-z0-9_.-]{0,49}$`. In the model so that the compiler and the servers (which
/// check keys that SDKs report) hold one rule.
public enum Keys {
    public static func isValid(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard (1...50).contains(bytes.count) else { return false }
        for (i, b) in bytes.enumerated() {
            let lowerOrDigit = (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39)
            if i == 0 { if !lowerOrDigit { return false } } else if !(lowerOrDigit || b == 0x5F || b == 0x2E || b == 0x2D) {
                return false
            }
        }
        return true
    }

    public static let rule = "keys are 1 to 50 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit"
}
