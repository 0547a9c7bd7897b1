//! `-f` and `-w` in front of a command's record consumer: which packets or
//! flows go on, what goes into the pcap file, and their counts added to
//! every stats line.

use crate::{
    dump::PacketDump,
    filter::{FilterStats, FlowFilter, PacketFilter},
    flow::{FlowEngine, PollOutput, StatsRecord},
    replay::{Packet, ReplaySink, SinkFailure},
};

/// Replay: the filter runs on every packet (libpcap's program on the
/// captured bytes); packets that pass are counted and written to `-w`.
pub(crate) struct ReplaySelection<S> {
    inner: S,
    filter: Option<(PacketFilter, FilterStats)>,
    dump: Option<PacketDump>,
}

impl<S: ReplaySink> ReplaySelection<S> {
    pub(crate) fn new(inner: S, filter: Option<PacketFilter>, dump: Option<PacketDump>) -> Self {
        let filter = filter.map(|filter| {
            let stats = FilterStats { expression: filter.expression().to_owned(), ..FilterStats::default() };
            (filter, stats)
        });
        Self { inner, filter, dump }
    }

    pub(crate) fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: ReplaySink> ReplaySink for ReplaySelection<S> {
    fn interface(&mut self, ifindex: u32, name: String) {
        self.inner.interface(ifindex, name);
    }

    fn admit(&mut self, packet: &Packet<'_>) -> Result<bool, SinkFailure> {
        if let Some((filter, stats)) = &mut self.filter {
            if !filter.matches(packet.link, packet.data)? {
                stats.packets_rejected += 1;
                return Ok(false);
            }
            stats.packets_matched += 1;
        }
        if let Some(dump) = &mut self.dump {
            dump.write(packet.link, packet.timestamp_ns, packet.data, packet.orig_len)?;
        }
        self.inner.admit(packet)
    }

    fn poll(&mut self, out: &PollOutput, engine: &FlowEngine) -> Result<(), SinkFailure> {
        if let Some(dump) = &mut self.dump {
            dump.flush()?;
        }
        self.inner.poll(out, engine)
    }

    fn stats(&mut self, stats: &StatsRecord) -> Result<(), SinkFailure> {
        if let Some(dump) = self.dump.as_mut().filter(|_| stats.is_final) {
            dump.finish()?;
        }
        let stats = StatsRecord {
            filter: self.filter.as_ref().map(|(_, stats)| stats.clone()),
            write: self.dump.as_ref().map(|dump| dump.stats().clone()),
            ..stats.clone()
        };
        self.inner.stats(&stats)
    }
}

/// Live: the kernel counts every packet (its counters stay honest); flow
/// records are kept or dropped by [`FlowFilter`] before they reach `inner`.
pub(crate) struct LiveSelection<S> {
    inner: S,
    filter: Option<FlowFilter>,
}

impl<S: ReplaySink> LiveSelection<S> {
    pub(crate) fn new(inner: S, filter: Option<FlowFilter>) -> Self {
        Self { inner, filter }
    }

    pub(crate) fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: ReplaySink> ReplaySink for LiveSelection<S> {
    fn interface(&mut self, ifindex: u32, name: String) {
        self.inner.interface(ifindex, name);
    }

    fn poll(&mut self, out: &PollOutput, engine: &FlowEngine) -> Result<(), SinkFailure> {
        let Some(filter) = &mut self.filter else {
            return self.inner.poll(out, engine);
        };
        let mut keep = Vec::with_capacity(out.records.len());
        for record in &out.records {
            keep.push(filter.keep(record)?);
        }
        if keep.iter().all(|k| *k) {
            return self.inner.poll(out, engine);
        }
        let records = out.records.iter().zip(keep).filter(|(_, k)| *k).map(|(record, _)| record.clone()).collect();
        self.inner.poll(&PollOutput { records, hooks: out.hooks }, engine)
    }

    fn stats(&mut self, stats: &StatsRecord) -> Result<(), SinkFailure> {
        let stats = StatsRecord { filter: self.filter.as_ref().map(|f| f.stats().clone()), ..stats.clone() };
        self.inner.stats(&stats)
    }
}
