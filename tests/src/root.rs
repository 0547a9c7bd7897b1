//! The root check every privileged test starts with.

/// True when the tests run as root. Otherwise prints why the test is skipped
/// and returns false, so a test can `return` early:
/// `if !require_root() { return Ok(()); }`.
pub fn require_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        eprintln!("skipped: needs root (run cargo xtask test as root)");
        false
    }
}
