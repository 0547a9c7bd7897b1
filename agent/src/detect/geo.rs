//! Geography: a public remote address in a country or network (ASN) not
//! seen in the baseline (or the warm-up), or in a configured deny list.
//!
//! The detector asks a [`GeoLookup`] (the MaxMind enricher in the agent; a
//! fixed table in tests) about the public, non-internal side(s) of each new
//! flow. Without a lookup there is no geography and the detector is off.
//! Each new country or network is reported once, then learnt.
//!
//! Only conversations count (a completed TCP handshake, an answered UDP or
//! ICMP exchange): a place is where a host *talked* to. Unanswered packets
//! from outside are mostly spoofed (a flood's random sources, backscatter)
//! or scans, and their source address says nothing about where anyone is;
//! they are `flood`'s and `port_scan`'s to report.

use std::{collections::BTreeSet, net::IpAddr, time::Duration};

use ipnet::IpNet;
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use super::{
    detector::RuleDetector,
    facts::FlowFacts,
    finding::{Entity, Finding, FlowSample},
};
use crate::{
    duration::saturating_ns,
    event::{AnomalyKind, Evidence, GeoReason, NoveltyReference, Severity},
};

/// Where an address is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeoLocation {
    /// ISO 3166-1 alpha-2 code.
    pub country: Option<String>,
    pub asn: Option<u32>,
    /// A globally routable address (reserved ranges are never looked up).
    pub is_public: bool,
}

/// Country and network of an address. Implemented by the agent's GeoIP
/// enricher; `&mut self` lets an implementation cache.
pub trait GeoLookup {
    fn locate(&mut self, ip: IpAddr) -> GeoLocation;
}

/// A lookup over a fixed table of networks (first match wins): for tests,
/// and for sites that want to name their own ranges without a database.
#[derive(Clone, Debug, Default)]
pub struct StaticGeo {
    entries: Vec<(IpNet, GeoLocation)>,
}

impl StaticGeo {
    pub fn new(entries: Vec<(IpNet, GeoLocation)>) -> Self {
        Self { entries }
    }
}

impl GeoLookup for StaticGeo {
    fn locate(&mut self, ip: IpAddr) -> GeoLocation {
        self.entries.iter().find(|(net, _)| net.contains(&ip)).map(|(_, loc)| loc.clone()).unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeoConfig {
    pub enabled: bool,
    /// Learning time without a baseline. 1 h, as for rare protocols: the
    /// usual cloud, CDN and update networks show up within it.
    #[serde(with = "humantime_serde")]
    pub warmup: Duration,
    /// Countries (ISO codes, e.g. "KP") any contact with is reported as high.
    pub deny_countries: Vec<String>,
    /// Autonomous systems any contact with is reported as high.
    pub deny_asns: Vec<u32>,
}

impl Default for GeoConfig {
    fn default() -> Self {
        Self { enabled: true, warmup: Duration::from_secs(3600), deny_countries: Vec::new(), deny_asns: Vec::new() }
    }
}

pub struct GeoDetector {
    config: GeoConfig,
    lookup: Box<dyn GeoLookup + Send>,
    reference: NoveltyReference,
    countries: FxHashSet<String>,
    asns: FxHashSet<u32>,
    warmup_end_ns: Option<u64>,
}

impl GeoDetector {
    /// `baseline`: the countries and networks seen in training.
    pub fn new(
        mut config: GeoConfig,
        lookup: Box<dyn GeoLookup + Send>,
        baseline: Option<(BTreeSet<String>, BTreeSet<u32>)>,
    ) -> Self {
        config.deny_countries.iter_mut().for_each(|c| c.make_ascii_uppercase());
        let reference = if baseline.is_some() { NoveltyReference::Baseline } else { NoveltyReference::WarmUp };
        let (countries, asns) = baseline.unwrap_or_default();
        Self {
            config,
            lookup,
            reference,
            countries: countries.into_iter().collect(),
            asns: asns.into_iter().collect(),
            warmup_end_ns: None,
        }
    }

    fn judge(
        &mut self,
        facts: &FlowFacts<'_>,
        remote: IpAddr,
        host: IpAddr,
        place: GeoLocation,
        warming_up: bool,
    ) -> Option<Finding> {
        let denied = place.country.as_ref().is_some_and(|c| self.config.deny_countries.iter().any(|d| d == c))
            || place.asn.is_some_and(|asn| self.config.deny_asns.contains(&asn));
        let new_country = place.country.as_ref().is_some_and(|c| !self.countries.contains(c));
        let new_asn = place.asn.is_some_and(|asn| !self.asns.contains(&asn));
        // Only new places are copied into the sets: this runs for every flow.
        if let Some(country) = place.country.as_ref().filter(|_| new_country) {
            self.countries.insert(country.clone());
        }
        if let Some(asn) = place.asn.filter(|_| new_asn) {
            self.asns.insert(asn);
        }
        let (reason, severity) = if denied {
            (GeoReason::Denied, Severity::High)
        } else if warming_up || !(new_country || new_asn) {
            return None;
        } else if new_country && new_asn {
            (GeoReason::Unseen, Severity::Medium)
        } else {
            (GeoReason::Unseen, Severity::Low)
        };
        let region = match (&place.country, place.asn) {
            (Some(country), _) if denied || new_country => country.clone(),
            (_, Some(asn)) => format!("AS{asn}"),
            (Some(country), None) => country.clone(),
            (None, None) => remote.to_string(),
        };
        let flow = facts.flow;
        Some(Finding {
            kind: AnomalyKind::Geo,
            entity: Entity::Region { host, region: region.clone() },
            severity,
            score: match severity {
                Severity::High => 1.0,
                Severity::Medium => 0.75,
                Severity::Low => 0.5,
            },
            summary: match reason {
                GeoReason::Denied => format!("{host} talked to {remote} in denied {region}"),
                GeoReason::Unseen => format!("{host} talked to {remote} in {region}, not seen before"),
            },
            src_ip: Some(flow.src_ip),
            src_port: Some(flow.src_port),
            dst_ip: Some(flow.dst_ip),
            dst_port: Some(flow.dst_port),
            proto: Some(flow.proto),
            first_ns: flow.start_ns,
            last_ns: flow.end_ns,
            evidence: Evidence::Geo {
                country: place.country,
                asn: place.asn,
                reason,
                reference: (reason == GeoReason::Unseen).then_some(self.reference),
            },
            flows: FlowSample::of(flow),
            occurrences: 1,
        })
    }
}

impl RuleDetector for GeoDetector {
    fn name(&self) -> &'static str {
        "geo"
    }

    fn observe(&mut self, facts: &FlowFacts<'_>, out: &mut Vec<Finding>) {
        if !facts.first_record || facts.unanswered() {
            return;
        }
        let flow = facts.flow;
        let warming_up = self.reference == NoveltyReference::WarmUp && {
            let warmup = saturating_ns(self.config.warmup);
            let end = *self.warmup_end_ns.get_or_insert(facts.now_ns.saturating_add(warmup));
            facts.now_ns < end
        };
        let remotes = [
            (flow.dst_ip, facts.dst_internal || facts.dst_is_group, flow.src_ip),
            (flow.src_ip, facts.src_internal, flow.dst_ip),
        ];
        for (remote, internal, host) in remotes {
            if internal {
                continue;
            }
            let place = self.lookup.locate(remote);
            if !place.is_public {
                continue;
            }
            if let Some(finding) = self.judge(facts, remote, host, place, warming_up) {
                out.push(finding);
            }
        }
    }

    fn tracked(&self) -> usize {
        self.countries.len() + self.asns.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::facts::tests::{observe_all, tcp_session};

    fn table() -> Result<StaticGeo, Box<dyn std::error::Error>> {
        let place =
            |country: &str, asn: u32| GeoLocation { country: Some(country.into()), asn: Some(asn), is_public: true };
        Ok(StaticGeo::new(vec![
            ("81.2.69.0/24".parse()?, place("GB", 20712)),
            ("1.128.0.0/11".parse()?, place("AU", 1221)),
            ("175.45.176.0/22".parse()?, place("KP", 131279)),
            ("2.125.160.0/24".parse()?, place("GB", 5089)),
        ]))
    }

    #[test]
    fn baseline_places_pass_new_ones_alert_once_and_denied_ones_always() -> Result<(), Box<dyn std::error::Error>> {
        let config = GeoConfig { deny_countries: vec!["kp".into()], ..GeoConfig::default() };
        let baseline = (BTreeSet::from(["GB".to_string()]), BTreeSet::from([20712]));
        let mut detector = GeoDetector::new(config, Box::new(table()?), Some(baseline));
        let flows = [
            tcp_session(1, "10.0.0.5", "81.2.69.142", 443, 0.0, 900, 9_000),
            tcp_session(2, "10.0.0.5", "2.125.160.216", 443, 1.0, 900, 9_000),
            tcp_session(3, "10.0.0.5", "1.128.0.1", 443, 2.0, 900, 9_000),
            tcp_session(4, "10.0.0.6", "1.128.0.2", 443, 3.0, 900, 9_000),
            tcp_session(5, "175.45.176.3", "10.0.0.5", 22, 4.0, 900, 9_000),
            tcp_session(6, "175.45.176.3", "10.0.0.5", 22, 5.0, 900, 9_000),
        ];
        let found = observe_all(&mut detector, &flows);
        let summary: Vec<_> = found
            .iter()
            .map(|f| match &f.evidence {
                Evidence::Geo { country, reason, .. } => (country.clone(), *reason, f.severity),
                other => panic!("wrong evidence {other:?}"),
            })
            .collect();
        let gb = Some("GB".to_string());
        let au = Some("AU".to_string());
        let kp = Some("KP".to_string());
        assert_eq!(
            summary,
            vec![
                // Known country, new network.
                (gb, GeoReason::Unseen, Severity::Low),
                (au, GeoReason::Unseen, Severity::Medium),
                (kp.clone(), GeoReason::Denied, Severity::High),
                (kp, GeoReason::Denied, Severity::High),
            ]
        );
        assert_eq!(found[3].entity, Entity::Region { host: "10.0.0.5".parse()?, region: "KP".into() });
        Ok(())
    }

    #[test]
    fn nothing_is_new_during_the_warm_up() -> Result<(), Box<dyn std::error::Error>> {
        let config = GeoConfig { warmup: Duration::from_secs(60), ..GeoConfig::default() };
        let mut detector = GeoDetector::new(config, Box::new(table()?), None);
        let flows = [
            tcp_session(1, "10.0.0.5", "81.2.69.142", 443, 0.0, 900, 9_000),
            tcp_session(2, "10.0.0.5", "81.2.69.142", 443, 100.0, 900, 9_000),
            tcp_session(3, "10.0.0.5", "1.128.0.1", 443, 120.0, 900, 9_000),
            // Private and unknown addresses are never places.
            tcp_session(4, "10.0.0.5", "10.0.0.7", 443, 130.0, 900, 9_000),
            tcp_session(5, "10.0.0.5", "203.0.113.1", 443, 140.0, 900, 9_000),
        ];
        let found = observe_all(&mut detector, &flows);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].dst_ip, "1.128.0.1".parse().ok());
        assert!(matches!(found[0].evidence, Evidence::Geo { reference: Some(NoveltyReference::WarmUp), .. }));
        Ok(())
    }

    #[test]
    fn unanswered_packets_are_not_places() -> Result<(), Box<dyn std::error::Error>> {
        use crate::detect::facts::tests::syn_only;
        let config = GeoConfig { deny_countries: vec!["KP".into()], ..GeoConfig::default() };
        let baseline = (BTreeSet::from(["GB".to_string()]), BTreeSet::from([20712]));
        let mut detector = GeoDetector::new(config, Box::new(table()?), Some(baseline));
        // A spoofed SYN from a denied country and one from a new one, never answered.
        let flows = [syn_only(1, "175.45.176.3", "10.0.0.5", 80, 0.0), syn_only(2, "1.128.0.1", "10.0.0.5", 80, 1.0)];
        assert!(observe_all(&mut detector, &flows).is_empty());
        // The same country in a conversation is reported.
        let talked = tcp_session(3, "10.0.0.5", "1.128.0.1", 443, 2.0, 900, 9_000);
        assert_eq!(observe_all(&mut detector, &[talked]).len(), 1);
        Ok(())
    }
}
