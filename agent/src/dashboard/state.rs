//! What the dashboard knows: totals, traffic over time, the heaviest
//! conversations and the recent events, updated one output line at a time.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::event::Severity;

use super::{
    input::{EventLine, FlowLine, Line, StatsLine, parse_input_line},
    rate::RateSeries,
    talkers::{Conversation, TopTalkers},
};

/// Recent events kept for the event list.
const RECENT_EVENTS: usize = 200;
/// Conversations the top-talker table ranks exactly (see [`TopTalkers`]).
const TALKERS_KEPT: usize = 2_000;

/// Totals of the flow records read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowTotals {
    pub records: u64,
    pub packets: u64,
    pub bytes: u64,
    /// Records the model marked as anomalous.
    pub flagged: u64,
}

#[derive(Debug)]
pub struct Dashboard {
    source: String,
    flows: FlowTotals,
    /// Bytes over time from flow records (always available, but a live flow
    /// shows up only when its record is written).
    flow_traffic: RateSeries,
    /// Bytes over time from the kernel counters of successive stats lines
    /// (exact and current; only with `--stats-interval`).
    wire_traffic: RateSeries,
    /// The newest stats line: shown in the header, and the start of the next delta.
    last_stats: Option<StatsLine>,
    talkers: TopTalkers,
    recent_events: VecDeque<EventLine>,
    events_by_kind: BTreeMap<String, u64>,
    events_by_severity: [u64; 3],
    event_countries: HashMap<String, u64>,
    newest_time: Option<f64>,
    unreadable_lines: u64,
    input_ended: bool,
}

impl Dashboard {
    pub fn new(source: String, window_seconds: u64) -> Self {
        Self {
            source,
            flows: FlowTotals::default(),
            flow_traffic: RateSeries::new(window_seconds),
            wire_traffic: RateSeries::new(window_seconds),
            last_stats: None,
            talkers: TopTalkers::new(TALKERS_KEPT),
            recent_events: VecDeque::with_capacity(RECENT_EVENTS),
            events_by_kind: BTreeMap::new(),
            events_by_severity: [0; 3],
            event_countries: HashMap::new(),
            newest_time: None,
            unreadable_lines: 0,
            input_ended: false,
        }
    }

    /// One line of input: parsed, or `None` when it was not flowwatch output.
    pub fn apply(&mut self, line: Option<Line>) {
        match line {
            Some(Line::Flow(flow)) => self.flow(&flow),
            Some(Line::Event(event)) => self.event(event),
            Some(Line::Stats(stats)) => self.stats(stats),
            Some(Line::Other) => {}
            None => self.unreadable_lines += 1,
        }
    }

    /// One line of input text (see [`parse_input_line`]).
    pub fn apply_text(&mut self, text: &str) {
        if let Some(line) = parse_input_line(text) {
            self.apply(line);
        }
    }

    pub fn end_of_input(&mut self) {
        self.input_ended = true;
    }

    fn see_time(&mut self, at: f64) {
        self.newest_time = Some(self.newest_time.map_or(at, |t| t.max(at)));
    }

    fn flow(&mut self, flow: &FlowLine) {
        let packets = flow.orig_packets + flow.resp_packets;
        let bytes = flow.orig_bytes + flow.resp_bytes;
        self.flows.records += 1;
        self.flows.packets += packets;
        self.flows.bytes += bytes;
        self.flows.flagged += u64::from(flow.anomaly == Some(true));
        self.flow_traffic.spread(flow.start, flow.end, bytes);
        let conversation =
            Conversation { src: flow.src_ip, dst: flow.dst_ip, proto: flow.proto, dst_port: flow.dst_port };
        self.talkers.add(conversation, bytes, packets);
        self.see_time(flow.end);
    }

    fn event(&mut self, event: EventLine) {
        *self.events_by_kind.entry(event.kind.clone()).or_default() += 1;
        self.events_by_severity[event.severity as usize] += 1;
        if let Some(country) = event.remote.as_ref().and_then(|r| r.country.as_ref()) {
            *self.event_countries.entry(country.clone()).or_default() += 1;
        }
        self.see_time(event.last_seen);
        if self.recent_events.len() == RECENT_EVENTS {
            self.recent_events.pop_front();
        }
        self.recent_events.push_back(event);
    }

    fn stats(&mut self, stats: StatsLine) {
        if let Some(previous) = &self.last_stats {
            self.wire_traffic.spread(
                previous.time,
                stats.time,
                stats.hooks().bytes.saturating_sub(previous.hooks().bytes),
            );
        }
        self.see_time(stats.time);
        self.last_stats = Some(stats);
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn flows(&self) -> FlowTotals {
        self.flows
    }

    /// The newest stats line.
    pub fn kernel(&self) -> Option<&StatsLine> {
        self.last_stats.as_ref()
    }

    /// The graph's series and what it measures: the kernel counters once two
    /// stats lines have given a delta, else the flow records.
    pub fn traffic(&self) -> (&RateSeries, &'static str) {
        if self.wire_traffic.newest().is_some() {
            (&self.wire_traffic, "kernel counters")
        } else {
            (&self.flow_traffic, "flow records, spread over each flow's span")
        }
    }

    pub fn talkers(&self) -> &TopTalkers {
        &self.talkers
    }

    /// Newest first.
    pub fn recent_events(&self) -> impl Iterator<Item = &EventLine> {
        self.recent_events.iter().rev()
    }

    pub fn events_by_kind(&self) -> &BTreeMap<String, u64> {
        &self.events_by_kind
    }

    pub fn events_with(&self, severity: Severity) -> u64 {
        self.events_by_severity[severity as usize]
    }

    pub fn events_total(&self) -> u64 {
        self.events_by_severity.iter().sum()
    }

    /// The countries events pointed at most often, most first.
    pub fn top_countries(&self, n: usize) -> Vec<(&str, u64)> {
        let mut countries: Vec<(&str, u64)> = self.event_countries.iter().map(|(c, n)| (c.as_str(), *n)).collect();
        countries.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        countries.truncate(n);
        countries
    }

    pub fn newest_time(&self) -> Option<f64> {
        self.newest_time
    }

    pub fn unreadable_lines(&self) -> u64 {
        self.unreadable_lines
    }

    pub fn input_ended(&self) -> bool {
        self.input_ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = r#"{"type":"flow","start":"2024-03-05T09:00:00Z","end":"2024-03-05T09:00:01Z","proto":17,"src_ip":"10.0.0.1","dst_ip":"10.0.0.53","dst_port":53,"orig_packets":1,"orig_bytes":80,"resp_packets":1,"resp_bytes":120,"anomaly":true}"#;

    fn stats(time: &str, ingress_bytes: u64) -> String {
        format!(
            r#"{{"type":"stats","time":"{time}","final":false,"ingress":{{"packets":{},"bytes":{ingress_bytes}}},"egress":{{"packets":0,"bytes":0}},"flows_active":3}}"#,
            ingress_bytes / 100
        )
    }

    #[test]
    fn flow_records_add_to_totals_talkers_and_the_flow_graph() {
        let mut dashboard = Dashboard::new("test".into(), 60);
        dashboard.apply_text(FLOW);
        dashboard.apply_text(FLOW);
        assert_eq!(dashboard.flows(), FlowTotals { records: 2, packets: 4, bytes: 400, flagged: 2 });
        let top = dashboard.talkers().top(5);
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].1.flows, 2);
        let (series, source) = dashboard.traffic();
        assert!(source.starts_with("flow records"));
        let total: f64 = series.points().map(|(_, bytes)| bytes).sum();
        assert!((total - 400.0).abs() < 1e-9);
    }

    #[test]
    fn successive_stats_lines_graph_the_kernel_counters() {
        let mut dashboard = Dashboard::new("test".into(), 60);
        dashboard.apply_text(FLOW);
        dashboard.apply_text(&stats("2024-03-05T09:00:10Z", 1_000));
        assert!(dashboard.traffic().1.starts_with("flow records"), "one stats line gives no delta yet");
        dashboard.apply_text(&stats("2024-03-05T09:00:12Z", 5_000));
        let (series, source) = dashboard.traffic();
        assert_eq!(source, "kernel counters");
        let total: f64 = series.points().map(|(_, bytes)| bytes).sum();
        assert!((total - 4_000.0).abs() < 1e-9, "{total}");
        assert_eq!(dashboard.kernel().map(|k| k.flows_active), Some(3));
    }

    #[test]
    fn events_are_counted_by_kind_severity_and_country_newest_first() {
        let mut dashboard = Dashboard::new("test".into(), 60);
        for (kind, severity, country) in [("port_scan", "high", "US"), ("geo", "low", "BT"), ("geo", "low", "US")] {
            dashboard.apply_text(&format!(
                r#"{{"type":"event","kind":"{kind}","severity":"{severity}","last_seen":"2024-03-05T09:00:00Z","remote":{{"scope":"public","country":"{country}"}}}}"#
            ));
        }
        assert_eq!(dashboard.events_total(), 3);
        assert_eq!(dashboard.events_with(Severity::Low), 2);
        assert_eq!(dashboard.events_by_kind().get("geo"), Some(&2));
        assert_eq!(dashboard.top_countries(1), vec![("US", 2)]);
        assert_eq!(dashboard.recent_events().next().map(|e| e.kind.as_str()), Some("geo"));
    }

    #[test]
    fn lines_that_are_not_flowwatch_output_are_counted() {
        let mut dashboard = Dashboard::new("test".into(), 60);
        dashboard.apply_text("hello");
        dashboard.apply_text("");
        dashboard.apply_text(r#"{"type":"analysis"}"#);
        assert_eq!(dashboard.unreadable_lines(), 1);
    }
}
