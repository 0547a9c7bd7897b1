//! Per-packet cost of the kernel programs (from `kernel.bpf_stats_enabled`)
//! against reference programs on the same hook in the same run (an empty
//! program and a minimal counter, XDP for ingress and TC for egress, and
//! the ablations), and the highest rate trafgen pushes through a veth with
//! the agent's programs attached.

use std::fs;

use agent::{
    capture::{
        CaptureConfig, LiveCapture, ProgramStats, XdpModeChoice,
        reference::{
            ABLATION_PARSE_ONLY, KeyedAblation, REFERENCE_COUNTER, REFERENCE_COUNTER_TC, REFERENCE_EMPTY,
            REFERENCE_EMPTY_TC, ReferencePrograms,
        },
    },
    flow::FlowMapSource,
};
use agent_common::{
    counters::HookCounters,
    flow::{DIRECTION_EGRESS, DIRECTION_INGRESS, FlowKey, FlowStats},
};
use anyhow::{Context, Result, ensure};
use integration_tests::{netns::NetNs, veth::VethPair};
use rand_linfa::{SeedableRng, seq::SliceRandom};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::{
    egress_flood, hot_path,
    report::{Report, median},
    trafgen::{self, FloodResult},
};

/// What the kernel section sends to each program.
pub struct FloodPlan {
    /// Packets per XDP program over all rounds; each TC program gets a
    /// quarter as many (a raw socket sends them, slower than trafgen).
    pub packets: u64,
    /// Turns each program's flood is split into. Odd, so the per-round
    /// ratio has a true median; many, because one noisy stretch of the
    /// host's time moves a round's ratio by tens of percent, and the median
    /// of n rounds steadies only as √n.
    pub rounds: u64,
    /// Distinct UDP flows in every flood.
    pub flows: u32,
}

/// One program's flood: the veth pair whose `a` end runs it, and whether
/// the flood leaves that end (egress, TC) or arrives at it (ingress, XDP).
struct Flood<'p> {
    pair: &'p VethPair,
    egress: bool,
}

impl<'p> Flood<'p> {
    fn ingress(pair: &'p VethPair) -> Self {
        Self { pair, egress: false }
    }

    fn egress(pair: &'p VethPair) -> Self {
        Self { pair, egress: true }
    }
}

/// The order of the floods in round `round`: a shuffle seeded by the
/// round, the same in every run, so no program always runs in the same
/// place or after the same program. A fixed cycle turned by one each round
/// keeps every program's neighbours and their order, and the egress ratio
/// depended on the schedule: in three runs, rounds of a fixed cycle with
/// flowwatch egress just before its counter read 0.04, 0.04 and 0.18×
/// above rounds where the two were adjacent in alternating order (a
/// possible cause is what the flood before leaves warm; not isolated).
fn round_order(floods: usize, round: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..floods).collect();
    order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(round));
    order
}

/// Per-round ratios of each flowwatch program to the minimal counter on its hook.
#[derive(Default)]
struct HookRatios {
    ingress: Vec<f64>,
    egress: Vec<f64>,
}

const BPF_STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// Turns on the kernel's per-program run statistics and restores the
/// previous setting when dropped.
struct BpfStats {
    previous: String,
}

impl BpfStats {
    fn enable() -> Result<Self> {
        let previous = fs::read_to_string(BPF_STATS).context("reading kernel.bpf_stats_enabled")?;
        fs::write(BPF_STATS, "1").context("enabling kernel.bpf_stats_enabled")?;
        Ok(Self { previous: previous.trim().to_owned() })
    }
}

impl Drop for BpfStats {
    fn drop(&mut self) {
        let _ = fs::write(BPF_STATS, &self.previous);
    }
}

fn find<'a>(stats: &'a [ProgramStats], name: &str) -> Option<&'a ProgramStats> {
    stats.iter().find(|s| s.name == name)
}

fn ns_per_packet(stats: &[ProgramStats], name: &str) -> f64 {
    find(stats, name).and_then(ProgramStats::ns_per_run).unwrap_or(f64::NAN)
}

/// Nanoseconds per run of `name` between two readings of the cumulative statistics.
fn ns_per_packet_between(before: &[ProgramStats], after: &[ProgramStats], name: &'static str) -> f64 {
    let (Some(before), Some(after)) = (find(before, name), find(after, name)) else {
        return f64::NAN;
    };
    let window = ProgramStats {
        name,
        run_time_ns: after.run_time_ns.saturating_sub(before.run_time_ns),
        run_count: after.run_count.saturating_sub(before.run_count),
    };
    window.ns_per_run().unwrap_or(f64::NAN)
}

/// Whether a key is one of the flood's own flows (UDP to port 9) seen in
/// `direction`: the kernel may add a stray frame of its own (IPv6 MLD) that
/// the programs rightly count.
fn is_flood(key: &FlowKey, direction: u8) -> bool {
    key.protocol == 17 && key.dst_port == 9 && key.direction == direction
}

/// The note of a row that checks a count against the packets sent.
fn exactness(counted: u64, sent: u64) -> &'static str {
    if counted == sent { "exact" } else { "MISMATCH" }
}

/// A row checking that a program counted exactly the packets sent to it.
fn exact_count_row(report: &mut Report, metric: &str, counted: u64, sent: u64) {
    report
        .add("kernel", metric, counted as f64, "pkts")
        .target(format!("= {sent} sent"))
        .note(exactness(counted, sent));
}

/// An agent's flows, each with its per-CPU values merged.
type Flows = Vec<(FlowKey, FlowStats)>;

/// The flood's flows an agent's map holds in `direction`, each with its
/// per-CPU values merged, and the agent's hook counters, read after the map
/// so they cover every packet it holds.
fn flood_flows(capture: &mut LiveCapture, direction: u8) -> Result<(Flows, [HookCounters; 2])> {
    let mut snapshot = Vec::new();
    capture.flow_map().snapshot(&mut snapshot)?;
    snapshot.retain(|(key, _)| is_flood(key, direction));
    let hooks = capture.flow_map().hook_counters()?;
    Ok((snapshot, hooks))
}

/// The highest rate trafgen reaches into a veth: with nothing attached, with
/// the empty XDP program (what attaching any XDP program to a veth costs,
/// presumably its receiving through a ring of its own and NAPI) and with the agent
/// attached. Long floods, so trafgen's start-up (about 50 ms) hardly counts.
#[derive(Default)]
struct FastestFloods {
    bare: FloodResult,
    empty: FloodResult,
    agent: FloodResult,
}

/// `packets` into each veth in two floods, taking turns, so a drift of the
/// machine falls on all three. trafgen sends from one CPU: on both CPUs of
/// this VM, with an XDP program on the veth, it aborts ("Flushing TX_RING
/// failed: Resource temporarily unavailable"; a bare veth takes two
/// senders), so one sender is the highest rate it keeps up.
fn fastest_floods(b: &NetNs, [bare, empty, agent]: [&VethPair; 3], packets: u64, flows: u32) -> Result<FastestFloods> {
    let mut fastest = FastestFloods::default();
    for half in 0..2 {
        let share = packets / 2 + u64::from(half < packets % 2);
        fastest.bare += trafgen::flood(b, bare, share, flows)?;
        fastest.empty += trafgen::flood(b, empty, share, flows)?;
        fastest.agent += trafgen::flood(b, agent, share, flows)?;
    }
    Ok(fastest)
}

impl FastestFloods {
    fn report(&self, report: &mut Report) {
        let share =
            |flood: &FloodResult| format!("; {:.0} % of the bare veth's", 100.0 * flood.pps() / self.bare.pps());
        let rows = [
            ("nothing attached", &self.bare, String::new()),
            ("empty XDP program", &self.empty, share(&self.empty)),
            ("agent attached", &self.agent, format!("{}; every packet counted (next row)", share(&self.agent))),
        ];
        for (attached, flood, comparison) in rows {
            let metric = format!("highest trafgen rate into a veth, {attached}");
            report.add("kernel", metric, flood.pps(), "pkt/s").note(format!(
                "{} packets in {:.2} s (2 floods), 1 sender CPU{comparison}",
                flood.sent,
                flood.elapsed.as_secs_f64()
            ));
        }
    }
}

/// A flowwatch program's cost against the minimal counter on its hook: the
/// median of the rounds' ratios, with the rounds and the whole run's ratio.
fn ratio_row(report: &mut Report, metric: &str, mut rounds: Vec<f64>, whole_run: f64) {
    rounds.sort_by(f64::total_cmp);
    report.add("kernel", metric, median(&rounds), "x").target("<= 1.5x").note(format!(
        "median of {} rounds ({}); over the whole run {whole_run:.2}x",
        rounds.len(),
        rounds.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", "),
    ));
}

/// `map_entries`: slots of flowwatch's flow map and of every reference LRU
/// map alike (a fair comparison uses the same map type, flags and size).
pub fn run(report: &mut Report, plan: FloodPlan, map_entries: u32) -> Result<()> {
    let FloodPlan { packets, rounds, flows } = plan;
    // Every flood needs a packet: trafgen takes `-n 0` for "forever".
    ensure!(
        packets / 4 >= rounds,
        "--packets {packets} leaves a TC flood of some round empty: give at least 4 × --rounds ({})",
        4 * rounds
    );
    eprintln!(
        "kernel: {packets} packets over {flows} UDP flows per XDP program, a quarter per TC program, \
         in {rounds} rounds; LRU maps of {map_entries} entries"
    );
    let a = NetNs::new()?;
    let b = NetNs::new()?;
    let agent_pair = VethPair::new(&a, &b)?;
    let agent_egress_pair = VethPair::new(&a, &b)?;
    let empty_pair = VethPair::new(&a, &b)?;
    let bare_pair = VethPair::new(&a, &b)?;
    let counter_pair = VethPair::new(&a, &b)?;
    let parse_pair = VethPair::new(&a, &b)?;
    let keyed_pairs = KeyedAblation::ALL.iter().map(|_| VethPair::new(&a, &b)).collect::<Result<Vec<_>>>()?;
    let empty_tc_pair = VethPair::new(&a, &b)?;
    let counter_tc_pair = VethPair::new(&a, &b)?;
    let _stats = BpfStats::enable()?;

    a.run_in(|| -> Result<()> {
        // Two agents: each reference program has a map of its own holding
        // only its hook's 10,000 flows, so flowwatch's ingress and egress
        // are measured with the same, and neither's map carries the other
        // flood's flows (twice the entries, and the cache misses with them).
        let start_agent = |pair: &VethPair| {
            LiveCapture::start(&CaptureConfig {
                interfaces: vec![pair.a_if.clone()],
                xdp_mode: XdpModeChoice::Driver,
                map_entries,
                ..CaptureConfig::default()
            })
        };
        let mut capture = start_agent(&agent_pair)?;
        let mut egress_capture = start_agent(&agent_egress_pair)?;
        let mut references = ReferencePrograms::load(map_entries)?;
        references.attach(REFERENCE_EMPTY, &empty_pair.a_if)?;
        references.attach(REFERENCE_COUNTER, &counter_pair.a_if)?;
        references.attach(ABLATION_PARSE_ONLY, &parse_pair.a_if)?;
        for (ablation, pair) in KeyedAblation::ALL.iter().zip(&keyed_pairs) {
            references.attach(ablation.program(), &pair.a_if)?;
        }
        references.attach(REFERENCE_EMPTY_TC, &empty_tc_pair.a_if)?;
        references.attach(REFERENCE_COUNTER_TC, &counter_tc_pair.a_if)?;

        // The floods take turns in rounds, so a change in the load that other
        // processes put on the shared caches falls on every program alike:
        // their costs are mostly cache misses in the map lookup. Every flood,
        // and what was sent in each (the counts are checked). Ingress floods
        // (trafgen) are sent into the `a` ends, which run the XDP programs;
        // egress floods (a quarter as many packets, from a raw socket on this
        // thread, in namespace `a`) leave the `a` ends through TC egress.
        let ingress_targets =
            [&agent_pair, &counter_pair, &empty_pair, &parse_pair].into_iter().chain(&keyed_pairs).map(Flood::ingress);
        let egress_targets = [&agent_egress_pair, &counter_tc_pair, &empty_tc_pair].into_iter().map(Flood::egress);
        let floods: Vec<Flood> = ingress_targets.chain(egress_targets).collect();
        const AGENT: usize = 0;
        const PARSE_ONLY: usize = 3;
        const FIRST_KEYED: usize = 4;
        let agent_egress = FIRST_KEYED + KeyedAblation::ALL.len();
        let mut sent = vec![FloodResult::default(); floods.len()];
        // Each flowwatch program's ratio to the minimal counter on its hook,
        // one per round: drift in the machine's speed between rounds then
        // moves both sides of a ratio.
        let mut round_ratios = HookRatios::default();
        let mut before = (capture.program_stats(), egress_capture.program_stats(), references.stats());
        for round in 0..rounds {
            for which in round_order(floods.len(), round) {
                let flood = &floods[which];
                let total = if flood.egress { packets / 4 } else { packets };
                let share = total / rounds + u64::from(round < total % rounds);
                sent[which] += if flood.egress {
                    egress_flood::flood(flood.pair.a_v4, flood.pair.b_v4, share, flows)?
                } else {
                    trafgen::flood(&b, flood.pair, share, flows)?
                };
            }
            let after = (capture.program_stats(), egress_capture.program_stats(), references.stats());
            let reference = |name| ns_per_packet_between(&before.2, &after.2, name);
            let ingress = ns_per_packet_between(&before.0, &after.0, agent_common::names::INGRESS_PROGRAM);
            let egress = ns_per_packet_between(&before.1, &after.1, agent_common::names::EGRESS_PROGRAM);
            round_ratios.ingress.push(ingress / reference(REFERENCE_COUNTER));
            round_ratios.egress.push(egress / reference(REFERENCE_COUNTER_TC));
            before = after;
        }
        let (ingress, egress) = (sent[AGENT], sent[agent_egress]);
        let (parse_flood, keyed_floods) = (sent[PARSE_ONLY], &sent[FIRST_KEYED..agent_egress]);

        let ours = capture.program_stats();
        let ours_egress = egress_capture.program_stats();
        let refs = references.stats();
        // After every cost above is read, so these long floods enter no
        // per-packet figure: only their rate and the agent's count.
        let fastest = fastest_floods(&b, [&bare_pair, &empty_pair, &agent_pair], packets / 2, flows)?;
        let (ingress_flows, ingress_hooks) = flood_flows(&mut capture, DIRECTION_INGRESS)?;
        let (egress_flows, egress_hooks) = flood_flows(&mut egress_capture, DIRECTION_EGRESS)?;
        let counted = |flows: &Flows| -> u64 { flows.iter().map(|(_, s)| s.packets).sum() };
        let (ingress_counted, egress_counted) = (counted(&ingress_flows), counted(&egress_flows));
        // The parse-only counter has no key to tell a stray frame by; the
        // veth pairs are quiet by the time the programs attach.
        let parsed = references.parsed_packets()?;
        let keyed = KeyedAblation::ALL.map(|ablation| -> Result<u64> {
            let flows = references.keyed_packets(ablation)?;
            Ok(flows.iter().filter(|(k, _)| is_flood(k, 0)).map(|(_, packets)| packets).sum())
        });
        let ingress_ns = ns_per_packet(&ours, agent_common::names::INGRESS_PROGRAM);
        let egress_ns = ns_per_packet(&ours_egress, agent_common::names::EGRESS_PROGRAM);
        let empty_ns = ns_per_packet(&refs, REFERENCE_EMPTY);
        let counter_ns = ns_per_packet(&refs, REFERENCE_COUNTER);
        let empty_tc_ns = ns_per_packet(&refs, REFERENCE_EMPTY_TC);
        let counter_tc_ns = ns_per_packet(&refs, REFERENCE_COUNTER_TC);
        let parse_ns = ns_per_packet(&refs, ABLATION_PARSE_ONLY);
        let [key_ns, clock_ns, statistics_ns] =
            KeyedAblation::ALL.map(|ablation| ns_per_packet(&refs, ablation.program()));

        report.add("kernel", "reference: empty XDP program", empty_ns, "ns/pkt").note("cost floor on this VM");
        report
            .add("kernel", "reference: minimal 5-tuple per-CPU LRU counter", counter_ns, "ns/pkt")
            .note(format!("{map_entries}-entry map, as flowwatch's"));
        report
            .add("kernel", "flowwatch XDP ingress", ingress_ns, "ns/pkt")
            .note("full parser + 104-byte stats per flow");
        ratio_row(report, "flowwatch XDP ingress / minimal counter", round_ratios.ingress, ingress_ns / counter_ns);
        // Ablation: each step adds one part of flowwatch's per-packet work.
        report
            .add("kernel", "ablation: flowwatch parser + one per-CPU counter", parse_ns, "ns/pkt")
            .note(format!("parser ≈ {:+.0} ns over the empty program", parse_ns - empty_ns));
        report.add("kernel", "ablation: parser + 48-byte key in a per-CPU LRU map", key_ns, "ns/pkt").note(format!(
            "48-byte key lookup ≈ {:+.0} ns over parse-only; minimal counter's 16-byte key: {:+.0} ns over empty",
            key_ns - parse_ns,
            counter_ns - empty_ns
        ));
        report
            .add("kernel", "ablation: … + the clock (bpf_ktime_get_ns)", clock_ns, "ns/pkt")
            .note(format!("clock ≈ {:+.0} ns over the key ablation; value as large (16 bytes)", clock_ns - key_ns));
        report
            .add("kernel", "ablation: … + flowwatch's statistics (104-byte value)", statistics_ns, "ns/pkt")
            .note(format!("FlowStats::record ≈ {:+.0} ns over the clock ablation", statistics_ns - clock_ns));
        report
            .add("kernel", "ablation: the rest of flowwatch ingress", ingress_ns - statistics_ns, "ns/pkt")
            .note("hook counters, freeze check");
        exact_count_row(report, "flood packets parsed by the parse-only ablation", parsed, parse_flood.sent);
        for ((ablation, counted), flood) in KeyedAblation::ALL.iter().zip(keyed).zip(keyed_floods) {
            let metric = format!("flood packets counted by {}", ablation.program());
            exact_count_row(report, &metric, counted?, flood.sent);
        }
        report.add("kernel", "reference: empty TC program (egress)", empty_tc_ns, "ns/pkt").note("egress cost floor");
        report
            .add("kernel", "reference: minimal counter as a TC program (egress)", counter_tc_ns, "ns/pkt")
            .note("the XDP counter's code on the skb's linear data");
        report.add("kernel", "flowwatch TC egress", egress_ns, "ns/pkt").note("raw-socket UDP flood, 64-byte frames");
        ratio_row(report, "flowwatch TC egress / minimal TC counter", round_ratios.egress, egress_ns / counter_tc_ns);
        report.add("kernel", "trafgen rate in the rounds, agent attached", ingress.pps(), "pkt/s").note(format!(
            "{} packets in {:.2} s ({rounds} floods, trafgen start-up included), 1 sender core",
            ingress.sent,
            ingress.elapsed.as_secs_f64()
        ));
        fastest.report(report);
        exact_count_row(
            report,
            "flood packets counted by agent (ingress)",
            ingress_counted,
            ingress.sent + fastest.agent.sent,
        );
        exact_count_row(report, "flood packets counted by agent (egress)", egress_counted, egress.sent);
        report
            .add("kernel", "flood flows in the map (ingress)", ingress_flows.len() as f64, "flows")
            .target(format!("= {flows}"))
            .note(format!("its hooks saw {} + {} packets in all", ingress_hooks[0].packets, ingress_hooks[1].packets));
        report
            .add("kernel", "flood flows in the map (egress)", egress_flows.len() as f64, "flows")
            .target(format!("= {flows}"))
            .note(format!("its hooks saw {} + {} packets in all", egress_hooks[0].packets, egress_hooks[1].packets));

        // Last: the test runs count into the programs' statistics and add
        // the test frame's flow to each map, both read above.
        let frame = hot_path::frame(&agent_pair);
        let reference = |name| hot_path::cost(&frame, |frame, repeat| Ok(references.test_run_ns(name, frame, repeat)?));
        let (empty_hot, empty_tc_hot) = (reference(REFERENCE_EMPTY)?, reference(REFERENCE_EMPTY_TC)?);
        let xdp = |label: &str, hot: hot_path::Cost, flood: f64| {
            hot_path::OverEmpty::new(label, &hot, flood, (&empty_hot, empty_ns))
        };
        let tc = |label: &str, hot: hot_path::Cost, flood: f64| {
            hot_path::OverEmpty::new(label, &hot, flood, (&empty_tc_hot, empty_tc_ns))
        };
        let counter = xdp(REFERENCE_COUNTER, reference(REFERENCE_COUNTER)?, counter_ns);
        let parse = xdp(ABLATION_PARSE_ONLY, reference(ABLATION_PARSE_ONLY)?, parse_ns);
        let keyed_hot = KeyedAblation::ALL
            .iter()
            .zip([key_ns, clock_ns, statistics_ns])
            .map(|(ablation, flood)| Ok(xdp(ablation.program(), reference(ablation.program())?, flood)))
            .collect::<Result<Vec<_>>>()?;
        let ingress_hot = hot_path::cost(&frame, |frame, repeat| {
            Ok(capture.test_run_ns(agent_common::names::INGRESS_PROGRAM, frame, repeat)?)
        })?;
        let ingress = xdp("flowwatch XDP ingress", ingress_hot, ingress_ns);
        let counter_tc = tc(REFERENCE_COUNTER_TC, reference(REFERENCE_COUNTER_TC)?, counter_tc_ns);
        let egress_hot = hot_path::cost(&frame, |frame, repeat| {
            Ok(egress_capture.test_run_ns(agent_common::names::EGRESS_PROGRAM, frame, repeat)?)
        })?;
        let egress = tc("flowwatch TC egress", egress_hot, egress_ns);
        let programs: Vec<&hot_path::OverEmpty> =
            [&counter, &parse].into_iter().chain(&keyed_hot).chain([&ingress, &counter_tc, &egress]).collect();
        let hooks = [("XDP ingress", &ingress, &counter), ("TC egress", &egress, &counter_tc)];
        hot_path::report(report, &programs, &hooks);
        Ok(())
    })??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::round_order;

    #[test]
    fn every_round_runs_each_flood_once_and_neighbours_change() {
        let rounds: Vec<Vec<usize>> = (0..15).map(|round| round_order(11, round)).collect();
        for order in &rounds {
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..11).collect::<Vec<_>>());
        }
        assert_eq!(rounds[3], round_order(11, 3), "the same order in every run");
        // Flood 0's follower differs between rounds (a fixed cycle would always give 1).
        let followers: std::collections::BTreeSet<usize> =
            rounds.iter().filter_map(|order| order.windows(2).find(|pair| pair[0] == 0).map(|pair| pair[1])).collect();
        assert!(followers.len() >= 4, "{followers:?}");
    }
}
