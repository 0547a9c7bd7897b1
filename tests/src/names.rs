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

/// The process id in a namespace name made by [`unique`] (`fw<pid>n<n>`,
/// all of it), or `None` for any other name: the pattern is strict, so a
/// namespace of someone else's is never taken for one of ours.
pub fn namespace_owner_pid(name: &str) -> Option<u32> {
    let (pid, counter) = name.strip_prefix("fw")?.split_once('n')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(pid) || !all_digits(counter) {
        return None;
    }
    pid.parse().ok()
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

    #[test]
    fn the_owner_pid_is_read_back_from_our_namespace_names_only() {
        assert_eq!(namespace_owner_pid(&unique('n')), Some(std::process::id()));
        assert_eq!(namespace_owner_pid("fw15821n2"), Some(15821));
        let foreign = ["fw", "fwn1", "fw123", "fw12n", "fw12nx", "fw12n3a", "fw1a2", "fw12v3a", "flowwatch", "eth0"];
        for name in foreign {
            assert_eq!(namespace_owner_pid(name), None, "{name}");
        }
    }
}
