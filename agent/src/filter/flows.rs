//! `-f` on live capture: flow records kept or dropped by testing libpcap's
//! program on packets rebuilt from their key.

use pcap::BpfProgram;
use serde::{Deserialize, Serialize};

use super::{
    FilterError, FilterExpression,
    key_packet::{Direction, rebuild},
    program::compile_for,
};
use crate::{flow::Expired, replay::LinkType};

/// What a filter let through, for the `filter` object of the stats line.
/// `Deserialize` is for readers of that line (the integration tests).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterStats {
    pub expression: String,
    /// Packets that passed the filter (replay) or are in records that passed (live).
    pub packets_matched: u64,
    /// Packets filtered out (replay) or in records filtered out (live).
    pub packets_rejected: u64,
    /// Live only: flow records filtered out (the kernel counted them; they are not written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_rejected: Option<u64>,
}

impl FilterStats {
    pub fn new(expression: &str) -> Self {
        Self { expression: expression.to_owned(), ..Self::default() }
    }
}

/// Keeps a record when a packet of either direction of its flow would match:
/// a biflow holds both, so `src host A` keeps A's conversations whole.
pub struct FlowFilter {
    /// Rebuilt frames are always Ethernet, so one program is all it needs.
    program: BpfProgram,
    frame: Vec<u8>,
    stats: FilterStats,
}

impl std::fmt::Debug for FlowFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowFilter").field("stats", &self.stats).finish_non_exhaustive()
    }
}

impl FlowFilter {
    /// Refuses expressions a flow key cannot decide.
    pub fn new(expression: &FilterExpression) -> Result<Self, FilterError> {
        expression.check_live()?;
        let stats = FilterStats { records_rejected: Some(0), ..FilterStats::new(expression.as_str()) };
        let program = compile_for(expression.as_str(), LinkType::Ethernet)?;
        Ok(Self { program, frame: Vec::with_capacity(128), stats })
    }

    /// Whether `record` passes, counted in [`Self::stats`].
    pub fn keep(&mut self, record: &Expired) -> bool {
        let keep = [Direction::Forward, Direction::Reverse].into_iter().any(|direction| {
            rebuild(&record.originator, direction, &mut self.frame);
            self.program.filter(&self.frame)
        });
        if keep {
            self.stats.packets_matched += record.packets();
        } else {
            self.stats.packets_rejected += record.packets();
            *self.stats.records_rejected.get_or_insert(0) += 1;
        }
        keep
    }

    pub fn stats(&self) -> &FilterStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use agent_common::{
        flow::{FlowKey, FlowStats},
        parse::{IPPROTO_TCP, IPPROTO_UDP, ipv4_mapped},
    };

    use super::*;
    use crate::flow::EmitReason;

    fn record(src: [u8; 4], dst: [u8; 4], protocol: u8, ports: (u16, u16), packets: (u64, u64)) -> Expired {
        Expired {
            flow_id: 1,
            reason: EmitReason::Idle,
            originator: FlowKey {
                src_addr: ipv4_mapped(src),
                dst_addr: ipv4_mapped(dst),
                src_port: ports.0,
                dst_port: ports.1,
                protocol,
                ..FlowKey::default()
            },
            orig: FlowStats { packets: packets.0, ..FlowStats::default() },
            resp: FlowStats { packets: packets.1, ..FlowStats::default() },
            start_ns: 0,
            end_ns: 0,
        }
    }

    #[test]
    fn records_are_kept_when_either_direction_matches() -> Result<(), FilterError> {
        let mut filter = FlowFilter::new(&FilterExpression::parse("tcp and src port 80")?)?;
        // The responder's packets come from port 80.
        assert!(filter.keep(&record([10, 0, 0, 1], [10, 0, 0, 2], IPPROTO_TCP, (40000, 80), (3, 4))));
        assert!(!filter.keep(&record([10, 0, 0, 1], [10, 0, 0, 2], IPPROTO_UDP, (40000, 80), (1, 1))));
        assert!(!filter.keep(&record([10, 0, 0, 1], [10, 0, 0, 2], IPPROTO_TCP, (40000, 443), (5, 0))));
        let mut net = FlowFilter::new(&FilterExpression::parse("dst net 192.168.0.0/16 and not port 53")?)?;
        assert!(net.keep(&record([192, 168, 1, 9], [1, 1, 1, 1], IPPROTO_TCP, (40000, 443), (1, 0))));
        assert!(!net.keep(&record([192, 168, 1, 9], [1, 1, 1, 1], IPPROTO_UDP, (40000, 53), (1, 0))));
        assert!(!net.keep(&record([10, 1, 1, 9], [1, 1, 1, 1], IPPROTO_TCP, (40000, 443), (1, 0))));
        assert_eq!(
            filter.stats(),
            &FilterStats {
                expression: "tcp and src port 80".to_owned(),
                packets_matched: 7,
                packets_rejected: 7,
                records_rejected: Some(2),
            }
        );
        Ok(())
    }

    #[test]
    fn vlan_filters_see_the_key_vlans() -> Result<(), FilterError> {
        let mut filter = FlowFilter::new(&FilterExpression::parse("vlan 10 and vlan 20 and udp")?)?;
        let mut tagged = record([10, 0, 0, 1], [10, 0, 0, 2], IPPROTO_UDP, (1, 2), (1, 0));
        tagged.originator.vlan_id = 10;
        tagged.originator.inner_vlan_id = 20;
        assert!(filter.keep(&tagged));
        tagged.originator.inner_vlan_id = 21;
        assert!(!filter.keep(&tagged));
        Ok(())
    }

    #[test]
    fn live_refuses_non_key_primitives() -> Result<(), FilterError> {
        let Err(err) = FlowFilter::new(&FilterExpression::parse("less 64")?) else { panic!("accepted") };
        assert!(err.to_string().contains("uses `less`, which live capture cannot evaluate"), "{err}");
        Ok(())
    }
}
