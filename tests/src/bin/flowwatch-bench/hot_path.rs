//! The kernel programs' per-packet cost without cache misses: each program
//! runs in the kernel's test harness (`BPF_PROG_TEST_RUN`) on one frame
//! many times, so that frame's flow entry and value stay in the CPU's
//! caches. Beside the floods' figures it splits what a program costs into
//! the work it does and what cold caches add: a flood over 10,000 flows
//! misses the data caches on nearly every lookup, the test harness on
//! none, and between two runs of a TC egress program in a flood the whole
//! network stack runs, which also evicts the program's code.
//! The harness's own cost per run is not the flood's, so programs are
//! compared by what each adds to the empty program on the same path.

use std::net::SocketAddr;

use anyhow::Result;
use integration_tests::{frames, veth::VethPair};

use crate::report::{Report, median};

/// Runs per test run: long enough that the kernel's whole-nanosecond mean
/// is steady, short enough (tens of milliseconds) to repeat.
const REPEAT: u32 = 200_000;
/// Test runs per program; the row is their median.
const SAMPLES: usize = 5;
/// The test frame's destination port: not the floods' (9), so no flood
/// check ever counts it.
const PORT: u16 = 7;

/// A 64-byte UDP frame from `pair`'s `b` end to its `a` end, as the
/// floods' frames (22 bytes of payload) but to [`PORT`].
pub fn frame(pair: &VethPair) -> Vec<u8> {
    let src = SocketAddr::from((pair.b_v4, 1024));
    let dst = SocketAddr::from((pair.a_v4, PORT));
    frames::udp_frame(pair.a_mac, pair.b_mac, &[], src, dst, 22)
}

/// [`SAMPLES`] test runs of [`REPEAT`] runs each of one program.
pub struct Cost {
    /// Nanoseconds per run, the median of the test runs.
    pub median_ns: f64,
    /// The fastest and the slowest test run, in nanoseconds per run.
    pub range_ns: (f64, f64),
}

/// Test-runs a program [`SAMPLES`] times through `test_run` (a loaded
/// program's `test_run_ns`).
pub fn cost(frame: &[u8], test_run: impl Fn(&[u8], u32) -> Result<f64>) -> Result<Cost> {
    let mut samples = (0..SAMPLES).map(|_| test_run(frame, REPEAT)).collect::<Result<Vec<_>>>()?;
    samples.sort_by(f64::total_cmp);
    Ok(Cost { median_ns: median(&samples), range_ns: (samples[0], samples[samples.len() - 1]) })
}

/// One program's cost over its hook's empty program, on the test harness
/// and in the flood.
pub struct OverEmpty {
    pub label: String,
    pub hot_ns: f64,
    pub flood_ns: f64,
    /// The program's own test runs (not over the empty program), fastest
    /// and slowest: a wide range says the row is unsteady.
    pub hot_range_ns: (f64, f64),
}

impl OverEmpty {
    /// `hot` and `flood` of a program, over those of its hook's empty program.
    pub fn new(label: &str, hot: &Cost, flood_ns: f64, empty: (&Cost, f64)) -> Self {
        Self {
            label: label.to_owned(),
            hot_ns: hot.median_ns - empty.0.median_ns,
            flood_ns: flood_ns - empty.1,
            hot_range_ns: hot.range_ns,
        }
    }
}

/// The rows: each program over the empty one, hot and in the flood; then
/// for each hook, flowwatch's program over the minimal counter, split into
/// the work (hot) and cold caches (the flood's rest).
pub fn report(report: &mut Report, programs: &[&OverEmpty], hooks: &[(&str, &OverEmpty, &OverEmpty)]) {
    for program in programs {
        report
            .add("kernel", format!("hot path: {} over the empty program", program.label), program.hot_ns, "ns/pkt")
            .note(format!(
                "in the flood {:+.0} ns; its test runs {:.0}–{:.0} ns",
                program.flood_ns, program.hot_range_ns.0, program.hot_range_ns.1
            ));
    }
    for (hook, ours, counter) in hooks {
        let work = ours.hot_ns - counter.hot_ns;
        let flood = ours.flood_ns - counter.flood_ns;
        report
            .add("kernel", format!("hot path: flowwatch {hook} over the minimal counter"), work, "ns/pkt")
            .note(format!("in the flood {flood:+.0} ns: {work:.0} ns of work, {:.0} ns of cold caches", flood - work));
    }
}
