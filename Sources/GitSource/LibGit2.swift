import CGit2

/// libgit2 is initialised once per process, on first use.
enum LibGit2 {
    static let initialized: Bool = {
        git_libgit2_init()
        return true
    }()

    /// The last libgit2 error on this thread, as text. Read it right after the failing call.
    static func lastError(_ code: Int32) -> String {
        if let e = git_error_last(), let message = e.pointee.message {
            return String(cString: message)
        }
        return "libgit2 error \(code)"
    }
}
