//! Unique names for namespaces and interfaces.
//!
//! Names are `fw` + process id + a kind letter + a per-process counter, so
//! test binaries running side by side (different pids) and tests running on
//! parallel threads (different counters) never collide. Interface names
//! must fit in 15 bytes (`IFNAMSIZ - 1`); with pids up to 7 digits there is
//! room for a 4-digit counter and a side letter.

use std::sync::atomic::{AtomicU32, Ordering};

/// Longest interface name the kernel accepts.
pub const IFNAME_MAX: usize = 15;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The next per-process number (starts at 1).
pub fn next_id() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed) + 1
}

/// A fresh name `fw<pid><kind><n>`.
pub fn unique(kind: char) -> String {
    format!("fw{}{kind}{}", std::process::id(), next_id())
}

/// The two interface names of a veth pair numbered `id`: `fw<pid>v<id>a`/`b`.
pub fn veth_names(id: u32) -> (String, String) {
    let base = format!("fw{}v{}", std::process::id(), id % 10_000);
    (format!("{base}a"), format!("{base}b"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_short_enough() {
        let a = unique('n');
        let b = unique('n');
        assert_ne!(a, b);
        assert!(a.starts_with("fw"));
        let (x, y) = veth_names(next_id());
        assert_ne!(x, y);
        assert!(x.len() <= IFNAME_MAX, "{x}");
        // Worst case: a 7-digit pid and a 4-digit counter.
        let worst = format!("fw{}v{}a", 4_194_304, 9_999);
        assert!(worst.len() <= IFNAME_MAX, "{worst}");
    }
}
