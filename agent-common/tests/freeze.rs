//! The freeze protocol's ages and the timing argument behind them (agent-common/src/freeze.rs).

use agent_common::freeze::{FreezeAges, RETIRE_MARGIN_NS, is_frozen};

const SECOND: u64 = 1_000_000_000;

#[test]
fn an_entry_freezes_at_the_freeze_age_not_before() {
    assert!(!is_frozen(100, 100 + 29 * SECOND, 30 * SECOND));
    assert!(is_frozen(100, 100 + 30 * SECOND, 30 * SECOND));
    // Another CPU's timestamp a little ahead of this one's clock.
    assert!(!is_frozen(200, 100, 30 * SECOND));
}

#[test]
fn entries_freeze_at_the_idle_timeout_and_retire_a_margin_later() {
    let ages = FreezeAges::new(30 * SECOND);
    assert_eq!((ages.freeze_after_ns, ages.retire_after_ns()), (30 * SECOND, 31 * SECOND));
    assert_eq!(FreezeAges::min_idle_timeout_ns(SECOND), 3 * SECOND);
    // "Never" stays never, without overflow.
    let ages = FreezeAges::new(u64::MAX);
    assert_eq!((ages.freeze_after_ns, ages.retire_after_ns()), (u64::MAX, u64::MAX));
}

/// The argument in the module docs, checked over a grid: whenever the
/// agent may delete an entry it read at `read`, a program whose clock
/// read found the entry writable took that reading more than the margin
/// before `read`.
#[test]
fn a_writer_of_a_retirable_entry_read_its_clock_a_margin_earlier() {
    let ages = FreezeAges::new(5 * SECOND);
    let last = 1_000 * SECOND;
    for read_offset in (0..20).map(|s| s * SECOND / 2) {
        let read = last + read_offset;
        if !ages.is_retirable(last, read) {
            continue;
        }
        for writer_offset in (0..40).map(|s| s * SECOND / 4) {
            let writer_clock = last + writer_offset;
            if !is_frozen(last, writer_clock, ages.freeze_after_ns) {
                assert!(writer_clock + RETIRE_MARGIN_NS <= read, "{writer_clock} vs {read}");
            }
        }
    }
}

#[test]
fn a_second_generation_cannot_freeze_before_the_first_is_retired() {
    for poll in [0, SECOND / 10, SECOND, 30 * SECOND] {
        let idle = FreezeAges::min_idle_timeout_ns(poll);
        let ages = FreezeAges::new(idle);
        // First generation last written at 0: retired by the first poll at
        // or after retire_after_ns(), so before retire_after_ns() + poll.
        let retired_by = ages.retire_after_ns() + poll;
        // The second generation starts at the earliest at the freeze age
        // and freezes one freeze age later; the margin left is for the
        // poll's own processing.
        let second_frozen_at = 2 * ages.freeze_after_ns;
        assert!(retired_by + RETIRE_MARGIN_NS <= second_frozen_at, "poll {poll}");
    }
}
