//! `-f` and `-w` around replay's record consumer (which packets go on, what
//! goes into the pcap file, and their counts on every stats line), and live
//! `-w`'s writer of kernel samples.

use crate::{
    capture::{PacketSampler, Sample},
    clock::Clock,
    dump::{PacketDump, WriteStats},
    filter::{FilterStats, PacketFilter},
    flow::{FlowEngine, PollOutput, StatsRecord},
    replay::{LinkType, Packet, ReplaySink, SinkFailure},
};

/// Replay: the filter runs on every packet (libpcap's program on the
/// captured bytes); packets that pass and are replayed are counted and
/// written to `-w`.
pub(crate) struct ReplaySelection<S> {
    inner: S,
    filter: Option<(PacketFilter, FilterStats)>,
    dump: Option<PacketDump>,
}

impl<S: ReplaySink> ReplaySelection<S> {
    pub(crate) fn new(inner: S, filter: Option<PacketFilter>, dump: Option<PacketDump>) -> Self {
        let filter = filter.map(|filter| {
            let stats = FilterStats::new(filter.expression());
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
        if let Some((filter, stats)) = &mut self.filter
            && !filter.matches(packet.link, packet.data)?
        {
            stats.packets_rejected += 1;
            return Ok(false);
        }
        self.inner.admit(packet)
    }

    /// Counted and written only once the flow table counted the packet, so
    /// `packets_matched` and the `-w` file agree with the ingress counters
    /// also when `-t` or a signal stops the replay at an admitted packet.
    fn replayed(&mut self, packet: &Packet<'_>) -> Result<(), SinkFailure> {
        if let Some((_, stats)) = &mut self.filter {
            stats.packets_matched += 1;
        }
        if let Some(dump) = &mut self.dump {
            dump.write(packet.link, packet.timestamp_ns, packet.data, packet.orig_len)?;
        }
        self.inner.replayed(packet)
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

/// Live `-w`: frames the kernel sampled, checked per packet by the `-f`
/// program on their real bytes (the expression is still the key-primitive
/// one the live parser accepts), then written with their kernel timestamps
/// turned into wall-clock time.
pub(crate) struct LiveDump {
    dump: PacketDump,
    filter: Option<PacketFilter>,
    sampler: PacketSampler,
    /// The samples' time domain (`bpf_ktime_get_ns`: `CLOCK_MONOTONIC`): "now" for the end of the
    /// file, and how kernel timestamps become wall-clock time.
    clock: Clock,
}

impl LiveDump {
    pub(crate) fn new(dump: PacketDump, filter: Option<PacketFilter>, sampler: PacketSampler, clock: Clock) -> Self {
        Self { dump, filter, sampler, clock }
    }

    /// Waits until the kernel has samples for [`Self::drain`].
    pub(crate) async fn readable(&mut self) {
        self.sampler.readable().await;
    }

    /// Writes every sample waiting in the kernel's buffers.
    pub(crate) fn drain(&mut self) -> Result<(), SinkFailure> {
        self.drain_until(u64::MAX)
    }

    /// Writes the waiting samples stamped at or before `end_ns` (kernel
    /// time); later ones arrived after the capture's end and are left out.
    fn drain_until(&mut self, end_ns: u64) -> Result<(), SinkFailure> {
        let Self { dump, filter, sampler, clock } = self;
        let mut failure: Option<SinkFailure> = None;
        sampler.drain(|sample| {
            if failure.is_none()
                && sample.header.timestamp_ns <= end_ns
                && let Err(err) = write(dump, filter.as_mut(), *clock, &sample)
            {
                failure = Some(err);
            }
        });
        failure.map_or(Ok(()), Err)
    }

    pub(crate) fn flush(&mut self) -> Result<(), SinkFailure> {
        Ok(self.dump.flush()?)
    }

    /// Drains the samples stamped until now and completes the file. Called
    /// right after the final read of the flow map: every packet that read
    /// counted is stamped before now, so the file ends with the counters
    /// (up to packets arriving during that read, which it may hold and
    /// they miss).
    pub(crate) fn finish(&mut self) -> Result<(), SinkFailure> {
        let end_ns = self.clock.now_source_ns();
        self.drain_until(end_ns)?;
        Ok(self.dump.finish()?)
    }

    /// The `write` object of the stats line, with the kernel's drop count.
    pub(crate) fn stats(&self) -> Result<WriteStats, SinkFailure> {
        Ok(WriteStats { ring_drops: Some(self.sampler.drops()?), ..self.dump.stats().clone() })
    }
}

/// One sample into `dump`, if `filter` (when given) matches it.
fn write(
    dump: &mut PacketDump,
    filter: Option<&mut PacketFilter>,
    clock: Clock,
    sample: &Sample<'_>,
) -> Result<(), SinkFailure> {
    if let Some(filter) = filter
        && !filter.matches(LinkType::Ethernet, sample.data)?
    {
        return Ok(());
    }
    let time_ns = u64::try_from(clock.to_epoch_ns(sample.header.timestamp_ns)).unwrap_or(0);
    dump.write(LinkType::Ethernet, time_ns, sample.data, sample.header.frame_len)?;
    Ok(())
}
