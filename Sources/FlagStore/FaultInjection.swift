#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Named places where a test can kill the process, to prove that a crash there loses and
/// duplicates nothing. Nothing happens unless `FLAGSTAFF_FAULT_POINT` is set to the name.
public enum FaultInjection {
    public static let variable = "FLAGSTAFF_FAULT_POINT"

    /// Kills the process with SIGKILL (no clean-up, no flush: as a power cut would) when
    /// `FLAGSTAFF_FAULT_POINT` equals `name`.
    public static func point(_ name: String) {
        // Read each time rather than cached: one getenv is cheap next to the I/O around it.
        guard let value = getenv(variable), String(cString: value) == name else { return }
        kill(getpid(), SIGKILL)
    }
}
