//! The traffic baseline: what normal looks like for this network, learnt
//! from training traffic and stored (as serde data) inside the model file.
//!
//! Per internal host: the services it opens, its bytes out to one outside
//! host per exfiltration window, its DNS per window. Per destination: its
//! packet rate per flood window. Globally: every service, and the
//! countries and networks (ASNs) of remote addresses. Window statistics are
//! kept as the median, 99th percentile and maximum over the windows in
//! which the host was active, so quiet time does not pull them down.
//!
//! The window lengths are stored with the statistics: a baseline measured
//! over 10 s windows cannot judge 30 s windows, and the engine refuses it.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::IpAddr,
    time::Duration,
};

use models::FlowObservation;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use sketches_ddsketch::{Config as SketchConfig, DDSketch};

use super::{
    config::DetectorsConfig,
    dns_tunnel::{self, DnsUsual},
    exfiltration::orient,
    facts::{FlowFacts, RecordSequence},
    geo::GeoLookup,
    networks::Networks,
    rare_protocol::{KnownServices, service_of},
    window::share_in,
};
use crate::{duration::saturating_ns, event::ServicePort};

/// Bump on any incompatible change of [`TrafficBaseline`].
pub const BASELINE_VERSION: u32 = 1;

/// Statistics of one measure over the windows in which it was active.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quantiles {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    /// Windows measured.
    pub windows: u64,
}

/// The window lengths the statistics were measured over, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineWindows {
    pub flood_secs: f64,
    pub exfiltration_secs: f64,
    pub dns_secs: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostBaseline {
    /// Services the host opened (as originator).
    pub services: BTreeSet<ServicePort>,
    /// Bytes out to one outside host per exfiltration window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_out: Option<Quantiles>,
    /// DNS sent per DNS window (all resolvers together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsUsual>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficBaseline {
    pub version: u32,
    pub windows: BaselineWindows,
    /// Flow records learnt from, and the capture time they span.
    pub flows: u64,
    pub span_secs: f64,
    /// Internal hosts.
    pub hosts: BTreeMap<IpAddr, HostBaseline>,
    /// Every service any internal host opened.
    pub services: BTreeSet<ServicePort>,
    /// Packets per second each destination received, per flood window.
    pub destinations: BTreeMap<IpAddr, Quantiles>,
    pub countries: BTreeSet<String>,
    pub asns: BTreeSet<u32>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BaselineError {
    #[error(
        "traffic baseline version {found} is not supported (this flowwatch reads version {BASELINE_VERSION}): retrain the model"
    )]
    Version { found: u32 },
    #[error(
        "the traffic baseline measured {measure} over {trained_secs} s windows but detectors.{field} is {configured_secs} s: retrain the model with this configuration, or set {field} back to {trained_secs} s"
    )]
    Window { measure: &'static str, field: &'static str, trained_secs: f64, configured_secs: f64 },
}

impl TrafficBaseline {
    /// Checks that this flowwatch can use the baseline with `config`.
    pub fn check(&self, config: &DetectorsConfig) -> Result<(), BaselineError> {
        if self.version != BASELINE_VERSION {
            return Err(BaselineError::Version { found: self.version });
        }
        let pairs = [
            ("packet rates", "flood.window", self.windows.flood_secs, config.flood.window),
            ("bytes out", "exfiltration.window", self.windows.exfiltration_secs, config.exfiltration.window),
            ("DNS", "dns_tunnel.window", self.windows.dns_secs, config.dns_tunnel.window),
        ];
        for (measure, field, trained_secs, configured) in pairs {
            if (trained_secs - configured.as_secs_f64()).abs() > 1e-6 {
                return Err(BaselineError::Window {
                    measure,
                    field,
                    trained_secs,
                    configured_secs: configured.as_secs_f64(),
                });
            }
        }
        Ok(())
    }
}

/// A baseline split into what each detector needs.
#[derive(Debug, Default)]
pub struct BaselineParts {
    pub bytes_out: BTreeMap<IpAddr, Quantiles>,
    pub dns: BTreeMap<IpAddr, DnsUsual>,
    pub destinations: BTreeMap<IpAddr, Quantiles>,
    pub services: KnownServices,
    pub countries: BTreeSet<String>,
    pub asns: BTreeSet<u32>,
}

impl TrafficBaseline {
    pub fn into_parts(self) -> BaselineParts {
        let bytes_out = self.hosts.iter().filter_map(|(host, b)| Some((*host, b.bytes_out?))).collect();
        let dns = self.hosts.iter().filter_map(|(host, b)| Some((*host, b.dns?))).collect();
        let own = self.hosts.into_iter().map(|(host, b)| (host, b.services)).collect();
        BaselineParts {
            bytes_out,
            dns,
            destinations: self.destinations,
            services: (own, self.services),
            countries: self.countries,
            asns: self.asns,
        }
    }
}

/// A tumbling window of one key while building.
#[derive(Debug, Default, Clone, Copy)]
struct Open {
    start_ns: u64,
    a: f64,
    b: f64,
}

/// Sketches of window values per key.
struct Measure<K> {
    window_ns: u64,
    open: FxHashMap<K, Open>,
    closed: FxHashMap<IpAddr, Vec<DDSketch>>,
    /// Turns a closed window's (a, b) into the values sketched, and names the host.
    values: fn(&K, Open, f64) -> (IpAddr, Vec<f64>),
}

impl<K: std::hash::Hash + Eq + Copy> Measure<K> {
    fn new(window: Duration, values: fn(&K, Open, f64) -> (IpAddr, Vec<f64>)) -> Self {
        Self {
            window_ns: saturating_ns(window).max(1),
            open: FxHashMap::default(),
            closed: FxHashMap::default(),
            values,
        }
    }

    fn add(&mut self, key: K, now_ns: u64, a: f64, b: f64) {
        let open = self.open.entry(key).or_insert(Open { start_ns: now_ns, a: 0.0, b: 0.0 });
        if now_ns.saturating_sub(open.start_ns) >= self.window_ns {
            let done = std::mem::replace(open, Open { start_ns: now_ns, a: 0.0, b: 0.0 });
            Self::close(&mut self.closed, self.values, self.window_ns, &key, done);
        }
        let open = self.open.entry(key).or_default();
        open.a += a;
        open.b += b;
    }

    fn close(
        closed: &mut FxHashMap<IpAddr, Vec<DDSketch>>,
        values: fn(&K, Open, f64) -> (IpAddr, Vec<f64>),
        window_ns: u64,
        key: &K,
        done: Open,
    ) {
        let (host, values) = values(key, done, window_ns as f64 / 1e9);
        let sketches = closed
            .entry(host)
            .or_insert_with(|| values.iter().map(|_| DDSketch::new(SketchConfig::defaults())).collect());
        for (sketch, value) in sketches.iter_mut().zip(values) {
            sketch.add(value);
        }
    }

    /// Closes the windows still open and returns each host's sketches.
    fn finish(mut self) -> FxHashMap<IpAddr, Vec<DDSketch>> {
        for (key, open) in std::mem::take(&mut self.open) {
            Self::close(&mut self.closed, self.values, self.window_ns, &key, open);
        }
        self.closed
    }
}

fn quantiles(sketch: &DDSketch) -> Option<Quantiles> {
    Some(Quantiles {
        p50: sketch.quantile(0.5).ok()??,
        p99: sketch.quantile(0.99).ok()??,
        max: sketch.max()?,
        windows: sketch.count() as u64,
    })
}

/// Learns a [`TrafficBaseline`] from flow records. Training is offline, so
/// its state is not bounded like the detectors': one open window per key.
pub struct BaselineBuilder {
    networks: Networks,
    windows: BaselineWindows,
    sequence: RecordSequence,
    geo: Option<Box<dyn GeoLookup + Send>>,
    flows: u64,
    first_ns: Option<u64>,
    last_ns: u64,
    services: BTreeMap<IpAddr, BTreeSet<ServicePort>>,
    everyone: BTreeSet<ServicePort>,
    countries: BTreeSet<String>,
    asns: BTreeSet<u32>,
    /// Per (internal host, outside host): bytes out.
    bytes_out: Measure<(IpAddr, IpAddr)>,
    /// Per destination: packets (share inside the window).
    packets: Measure<IpAddr>,
    /// Per DNS client: queries and bytes.
    dns: Measure<IpAddr>,
}

impl BaselineBuilder {
    /// Measures over the windows `config` gives the detectors.
    pub fn new(config: &DetectorsConfig) -> Self {
        Self {
            networks: Networks::new(config.internal_networks.clone()),
            windows: BaselineWindows {
                flood_secs: config.flood.window.as_secs_f64(),
                exfiltration_secs: config.exfiltration.window.as_secs_f64(),
                dns_secs: config.dns_tunnel.window.as_secs_f64(),
            },
            sequence: RecordSequence::default(),
            geo: None,
            flows: 0,
            first_ns: None,
            last_ns: 0,
            services: BTreeMap::new(),
            everyone: BTreeSet::new(),
            countries: BTreeSet::new(),
            asns: BTreeSet::new(),
            bytes_out: Measure::new(config.exfiltration.window, |(host, _), w, _| (*host, vec![w.a])),
            packets: Measure::new(config.flood.window, |dst, w, secs| (*dst, vec![w.a / secs])),
            dns: Measure::new(config.dns_tunnel.window, |client, w, secs| {
                (*client, vec![w.a / secs, w.b / w.a.max(1.0), w.b])
            }),
        }
    }

    /// Also learns remote countries and networks through `lookup`.
    pub fn with_geo(mut self, lookup: Box<dyn GeoLookup + Send>) -> Self {
        self.geo = Some(lookup);
        self
    }

    pub fn observe(&mut self, flow: &FlowObservation) {
        let first = self.sequence.is_first(flow);
        let facts = FlowFacts::new(flow, first, &self.networks);
        let now = facts.now_ns;
        self.flows += 1;
        self.first_ns = Some(self.first_ns.map_or(flow.start_ns, |t| t.min(flow.start_ns)));
        self.last_ns = self.last_ns.max(flow.end_ns);

        if facts.opened && facts.src_internal && !facts.dst_is_group {
            let service = service_of(flow);
            self.services.entry(flow.src_ip).or_default().insert(service);
            self.everyone.insert(service);
        }
        if let Some((host, remote, sent, _)) = orient(&facts) {
            self.bytes_out.add((host, remote), now, sent as f64, 0.0);
        }
        if !facts.dst_is_group {
            // The same share-of-window rule as the flood detector.
            let share = share_in(self.packets.window_ns, flow.end_ns - flow.start_ns);
            self.packets.add(flow.dst_ip, now, flow.orig.packets as f64 * share, 0.0);
        }
        if dns_tunnel::is_query(flow) {
            self.dns.add(flow.src_ip, now, flow.orig.packets as f64, flow.orig.bytes as f64);
        }
        if let Some(geo) = self.geo.as_mut().filter(|_| first) {
            let remotes = [(flow.src_ip, facts.src_internal), (flow.dst_ip, facts.dst_internal || facts.dst_is_group)];
            for (ip, internal) in remotes {
                if internal {
                    continue;
                }
                let place = geo.locate(ip);
                if place.is_public {
                    self.countries.extend(place.country);
                    self.asns.extend(place.asn);
                }
            }
        }
    }

    pub fn build(self) -> TrafficBaseline {
        let mut hosts: BTreeMap<IpAddr, HostBaseline> = self
            .services
            .into_iter()
            .map(|(host, services)| (host, HostBaseline { services, ..HostBaseline::default() }))
            .collect();
        for (host, sketches) in self.bytes_out.finish() {
            hosts.entry(host).or_default().bytes_out = sketches.first().and_then(quantiles);
        }
        for (client, sketches) in self.dns.finish() {
            let p99 = |i: usize| sketches.get(i).and_then(quantiles).map_or(0.0, |q| q.p99);
            hosts.entry(client).or_default().dns =
                Some(DnsUsual { queries_per_sec_p99: p99(0), mean_query_bytes_p99: p99(1), bytes_out_p99: p99(2) });
        }
        let destinations = self
            .packets
            .finish()
            .into_iter()
            .filter_map(|(dst, s)| Some((dst, s.first().and_then(quantiles)?)))
            .collect();
        TrafficBaseline {
            version: BASELINE_VERSION,
            windows: self.windows,
            flows: self.flows,
            span_secs: self.first_ns.map_or(0.0, |first| self.last_ns.saturating_sub(first) as f64 / 1e9),
            hosts,
            services: self.everyone,
            destinations,
            countries: self.countries,
            asns: self.asns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::facts::{TCP, UDP};
    use crate::detect::{
        facts::tests::{flow, tcp_session, with_orig, with_resp},
        geo::{GeoLocation, StaticGeo},
    };

    fn dns(id: u64, at: f64) -> FlowObservation {
        with_resp(with_orig(flow(id, UDP, "10.0.0.5", "10.0.0.1", 53, at, 1), 1, 90, 0), 1, 150, 0)
    }

    #[test]
    fn learns_services_volumes_rates_and_places() -> Result<(), Box<dyn std::error::Error>> {
        let config = DetectorsConfig::default();
        let geo = StaticGeo::new(vec![(
            "93.184.216.0/24".parse()?,
            GeoLocation { country: Some("US".into()), asn: Some(15133), is_public: true },
        )]);
        let mut builder = BaselineBuilder::new(&config).with_geo(Box::new(geo));
        // Two 10-minute exfiltration windows: 3 MB then 1 MB to one outside host.
        for i in 0..3u64 {
            builder.observe(&tcp_session(i, "10.0.0.5", "93.184.216.34", 443, i as f64, 1_000_000, 20_000));
        }
        builder.observe(&tcp_session(10, "10.0.0.5", "93.184.216.34", 443, 700.0, 1_000_000, 20_000));
        // One DNS window: 60 queries of 90 bytes in a minute.
        for i in 0..60u64 {
            builder.observe(&dns(100 + i, 800.0 + i as f64));
        }
        let baseline = builder.build();
        baseline.check(&config)?;
        let host = baseline.hosts.get(&"10.0.0.5".parse()?).ok_or("host not learnt")?;
        let services: Vec<_> = host.services.iter().copied().collect();
        assert_eq!(services, vec![ServicePort { proto: TCP, port: 443 }, ServicePort { proto: UDP, port: 53 }]);
        // DDSketch quantiles are within 1 % of a value in the sample (max is exact).
        let close = |value: f64, expected: f64| (value - expected).abs() / expected <= 0.011;
        let out = host.bytes_out.ok_or("no bytes out")?;
        assert_eq!(out.windows, 2);
        assert_eq!(out.max, 3e6);
        assert!(close(out.p50, 1e6), "{out:?}");
        let dns = host.dns.ok_or("no dns")?;
        assert!(close(dns.queries_per_sec_p99, 1.0) && close(dns.mean_query_bytes_p99, 90.0), "{dns:?}");
        assert!(close(dns.bytes_out_p99, 5_400.0), "{dns:?}");
        assert_eq!(baseline.countries, BTreeSet::from(["US".to_string()]));
        assert_eq!(baseline.asns, BTreeSet::from([15133]));
        assert_eq!(baseline.flows, 64);
        let resolver = baseline.destinations.get(&"10.0.0.1".parse()?).ok_or("resolver rate not learnt")?;
        // 60 queries in a minute over 10 s windows: 6 windows of 10 queries, 1 packet/s each.
        assert_eq!(resolver.windows, 6);
        assert!(close(resolver.p99, 1.0), "{resolver:?}");
        Ok(())
    }

    #[test]
    fn round_trips_through_json_and_refuses_other_windows() -> Result<(), Box<dyn std::error::Error>> {
        let mut builder = BaselineBuilder::new(&DetectorsConfig::default());
        builder.observe(&tcp_session(1, "10.0.0.5", "93.184.216.34", 443, 0.0, 5_000, 20_000));
        let baseline = builder.build();
        let text = serde_json::to_string(&baseline)?;
        let back: TrafficBaseline = serde_json::from_str(&text)?;
        assert_eq!(back, baseline);

        let mut other = DetectorsConfig::default();
        other.flood.window = Duration::from_secs(30);
        let err = baseline.check(&other).err().ok_or("accepted a different window")?;
        assert_eq!(
            err.to_string(),
            "the traffic baseline measured packet rates over 10 s windows but detectors.flood.window is 30 s: retrain the model with this configuration, or set flood.window back to 10 s"
        );
        let old = TrafficBaseline { version: 0, ..back };
        assert_eq!(old.check(&DetectorsConfig::default()), Err(BaselineError::Version { found: 0 }));
        Ok(())
    }
}
