//! Per-host sliding windows: what each originator did in the last
//! [`HostWindowConfig::window`] of flow time — how many flows it started,
//! how many distinct peers and ports it touched, how many of its flows
//! failed or were DNS lookups, and how many bytes went out and came back.
//!
//! Every record adds one event stamped with its end time; events leave the
//! window in arrival order from one global queue, so expiry costs O(1) per
//! event and a host whose last event leaves is dropped with it: memory is
//! bounded by the events in one window, and by [`HostWindowConfig::max_events`]
//! when a flood pushes more than that into one window (the oldest events then
//! leave early and [`WindowStats::early_evictions`] counts them).
//!
//! **Interim records.** A long flow is reported as interim records
//! (`ended == false`) followed by a final one, each carrying only its own
//! interval's packets and bytes. Bytes therefore add up exactly across the
//! records, but the flow must count once as a connection: only a flow's
//! first record counts towards the flow rate and the failed share; later
//! records add bytes and keep its peer and port in the window. The flows
//! seen with an interim record are remembered (keyed by flow id and
//! 5-tuple, since ids restart with every capture) until their final record
//! arrives or, if it never does, for [`HostWindowConfig::interim_ttl`].
//!
//! **Failed flows.** TCP: the originator sent a SYN and the responder never
//! answered with one (no answer, a reset, or an ICMP error). Other
//! protocols: the responder sent nothing. Flows whose start was not seen (no
//! SYN) never count as failed.
//!
//! **Time.** Flow time is the records' `end_ns`, expected in order. A record
//! older than the newest seen is stamped with the newest time, which keeps
//! the queue ordered and at worst holds it in the window a little longer.

use std::{collections::VecDeque, net::IpAddr, time::Duration};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::{
    FeatureWriter,
    flow::{IPPROTO_TCP, has_ports},
    ports::DNS_PORT,
    schema::Feature,
};
use crate::FlowObservation;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostWindowConfig {
    /// How far back host features look (default 60 s).
    pub window: Duration,
    /// Most events held at once (default 1,000,000, ≈ 100 MB at worst).
    pub max_events: usize,
    /// How long a flow seen only through interim records is remembered
    /// (default 600 s: twice the agent's default active timeout).
    pub interim_ttl: Duration,
}

impl Default for HostWindowConfig {
    fn default() -> Self {
        Self { window: Duration::from_secs(60), max_events: 1_000_000, interim_ttl: Duration::from_secs(600) }
    }
}

/// Counters that show whether the bounds were hit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WindowStats {
    pub hosts: usize,
    pub events: usize,
    /// Events dropped before their time because of `max_events`.
    pub early_evictions: u64,
}

/// One record, as it entered the window.
struct Event {
    at_ns: u64,
    host: IpAddr,
    peer: IpAddr,
    port: Option<u16>,
    new_flow: bool,
    failed: bool,
    /// A new flow to the DNS port.
    dns: bool,
    bytes_out: u64,
    bytes_in: u64,
}

/// One originator's totals over the events in the window.
#[derive(Default)]
struct HostTotals {
    events: u32,
    flows: u32,
    failed: u32,
    dns: u32,
    bytes_out: u64,
    bytes_in: u64,
    /// Reference counts: a peer or port is distinct while any event names it.
    peers: FxHashMap<IpAddr, u32>,
    ports: FxHashMap<u16, u32>,
}

impl HostTotals {
    fn add(&mut self, event: &Event) {
        self.events += 1;
        self.flows += u32::from(event.new_flow);
        self.failed += u32::from(event.failed);
        self.dns += u32::from(event.dns);
        self.bytes_out += event.bytes_out;
        self.bytes_in += event.bytes_in;
        *self.peers.entry(event.peer).or_default() += 1;
        if let Some(port) = event.port {
            *self.ports.entry(port).or_default() += 1;
        }
    }

    fn remove(&mut self, event: &Event) {
        self.events -= 1;
        self.flows -= u32::from(event.new_flow);
        self.failed -= u32::from(event.failed);
        self.dns -= u32::from(event.dns);
        self.bytes_out -= event.bytes_out;
        self.bytes_in -= event.bytes_in;
        release(&mut self.peers, event.peer);
        if let Some(port) = event.port {
            release(&mut self.ports, port);
        }
    }
}

fn release<K: std::hash::Hash + Eq>(counts: &mut FxHashMap<K, u32>, key: K) {
    if let Some(count) = counts.get_mut(&key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(&key);
        }
    }
}

/// Identifies a flow across its records (ids alone repeat across captures).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct FlowIdentity {
    flow_id: u64,
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    proto: u8,
}

impl FlowIdentity {
    fn of(flow: &FlowObservation) -> Self {
        Self {
            flow_id: flow.flow_id,
            src: flow.src_ip,
            dst: flow.dst_ip,
            src_port: flow.src_port,
            dst_port: flow.dst_port,
            proto: flow.proto,
        }
    }
}

/// See the module docs for the failure rule.
pub fn flow_failed(flow: &FlowObservation) -> bool {
    if flow.proto == IPPROTO_TCP { flow.orig.syn > 0 && flow.resp.syn == 0 } else { flow.resp.packets == 0 }
}

pub struct HostWindows {
    config: HostWindowConfig,
    window_ns: u64,
    now_ns: u64,
    events: VecDeque<Event>,
    hosts: FxHashMap<IpAddr, HostTotals>,
    /// Flows that had an interim record → flow time of their latest record.
    interim: FxHashMap<FlowIdentity, u64>,
    next_interim_sweep_ns: u64,
    early_evictions: u64,
}

impl HostWindows {
    pub fn new(config: HostWindowConfig) -> Self {
        Self {
            config,
            window_ns: duration_ns(config.window),
            now_ns: 0,
            events: VecDeque::new(),
            hosts: FxHashMap::default(),
            interim: FxHashMap::default(),
            next_interim_sweep_ns: 0,
            early_evictions: 0,
        }
    }

    pub fn stats(&self) -> WindowStats {
        WindowStats { hosts: self.hosts.len(), events: self.events.len(), early_evictions: self.early_evictions }
    }

    /// Adds `flow` to its originator's window and writes the window's
    /// features (the flow itself included).
    pub(super) fn observe(&mut self, flow: &FlowObservation, out: &mut FeatureWriter<'_>) {
        self.now_ns = self.now_ns.max(flow.end_ns);
        self.expire();
        let new_flow = self.is_first_record(flow);
        let event = Event {
            at_ns: self.now_ns,
            host: flow.src_ip,
            peer: flow.dst_ip,
            port: has_ports(flow.proto).then_some(flow.dst_port),
            new_flow,
            failed: new_flow && flow_failed(flow),
            dns: new_flow && has_ports(flow.proto) && flow.dst_port == DNS_PORT,
            bytes_out: flow.orig.bytes,
            bytes_in: flow.resp.bytes,
        };
        let totals = self.hosts.entry(event.host).or_default();
        totals.add(&event);
        write_features(totals, self.config.window, out);
        self.events.push_back(event);
        if self.events.len() > self.config.max_events {
            self.pop_oldest();
            self.early_evictions += 1;
        }
    }

    /// Tracks interim records; true unless an earlier record of this flow was seen.
    fn is_first_record(&mut self, flow: &FlowObservation) -> bool {
        let identity = FlowIdentity::of(flow);
        let seen_before = if flow.ended {
            self.interim.remove(&identity).is_some()
        } else {
            self.interim.insert(identity, self.now_ns).is_some()
        };
        !seen_before
    }

    fn expire(&mut self) {
        // The window is (now - window, now].
        if let Some(horizon) = self.now_ns.checked_sub(self.window_ns) {
            while self.events.front().is_some_and(|event| event.at_ns <= horizon) {
                self.pop_oldest();
            }
        }
        if self.now_ns >= self.next_interim_sweep_ns {
            // Amortized: one pass over the remembered flows per TTL of flow time.
            let ttl_ns = duration_ns(self.config.interim_ttl);
            let oldest_kept = self.now_ns.saturating_sub(ttl_ns);
            self.interim.retain(|_, last_ns| *last_ns >= oldest_kept);
            self.next_interim_sweep_ns = self.now_ns.saturating_add(ttl_ns.max(1));
        }
    }

    fn pop_oldest(&mut self) {
        let Some(event) = self.events.pop_front() else { return };
        if let Some(totals) = self.hosts.get_mut(&event.host) {
            totals.remove(&event);
            if totals.events == 0 {
                self.hosts.remove(&event.host);
            }
        }
    }
}

pub(crate) fn duration_ns(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn write_features(totals: &HostTotals, window: Duration, out: &mut FeatureWriter<'_>) {
    let window_s = window.as_secs_f64().max(f64::MIN_POSITIVE);
    let flows = f64::from(totals.flows);
    out.set(Feature::HostFlowRate, flows / window_s);
    out.set(Feature::HostDistinctPeers, totals.peers.len() as f64);
    out.set(Feature::HostDistinctPorts, totals.ports.len() as f64);
    let flow_share = |count: u32| if totals.flows == 0 { 0.0 } else { f64::from(count) / flows };
    out.set(Feature::HostFailedShare, flow_share(totals.failed));
    out.set(Feature::HostDnsShare, flow_share(totals.dns));
    out.set(Feature::HostPeersPerLookup, totals.peers.len() as f64 / f64::from(1 + totals.dns));
    out.set(Feature::HostBytesOut, totals.bytes_out as f64);
    let bytes = totals.bytes_out + totals.bytes_in;
    out.set(Feature::HostOutByteShare, if bytes == 0 { 1.0 } else { totals.bytes_out as f64 / bytes as f64 });
}
