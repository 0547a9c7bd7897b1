//! Length fields in a capture are claims, not allocation sizes: a block or
//! record that says it is 4 GB long must end in a prompt error after
//! allocating little, never a 4 GB buffer. The reader grows its buffer only
//! for bytes that actually arrive, up to a fixed cap.
//!
//! A counting global allocator measures the peak heap in use. It counts the
//! whole process, so this file holds one test: nothing else allocates
//! meanwhile.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    io::{self, Cursor, Read},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use agent::replay::{CaptureReader, ReplayError};

mod common;

use common::*;

struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1 << 20;

/// Reads `input` to its end or first error; returns the error, the peak heap
/// growth while reading and how long it took.
fn read(input: impl Read + Send + 'static) -> (Option<ReplayError>, usize, Duration) {
    let started = Instant::now();
    let base = IN_USE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let error = match CaptureReader::new("huge.cap".to_owned(), input) {
        Err(error) => Some(error),
        Ok(mut reader) => loop {
            match reader.next_packet(|_| ()) {
                Ok(Some(())) => {}
                Ok(None) => break None,
                Err(error) => break Some(error),
            }
        },
    };
    (error, PEAK.load(Ordering::Relaxed) - base, started.elapsed())
}

/// A pcapng section, then an enhanced packet block whose length field claims
/// almost 4 GiB, then `body`.
fn pcapng_claiming_4_gib(body: impl Read) -> impl Read {
    let interfaces = [Interface { link_type: 1, tsresol: None, name: "eth0" }];
    let mut head = pcapng(&interfaces, &[]);
    head.extend_from_slice(&6u32.to_le_bytes());
    head.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
    Cursor::new(head).chain(body)
}

/// A legacy pcap header, then a record whose captured length claims 4 GiB, then `body`.
fn pcap_claiming_4_gib(body: impl Read) -> impl Read {
    let mut head = pcap(1, false, u32::MAX, &[]);
    head.extend_from_slice(&[0; 8]); // timestamp
    head.extend_from_slice(&u32::MAX.to_le_bytes()); // captured length
    head.extend_from_slice(&u32::MAX.to_le_bytes()); // original length
    Cursor::new(head).chain(body)
}

#[test]
fn huge_length_fields_fail_fast_without_huge_allocations() {
    // Short files: the claim runs past the end of the input.
    for (format, (error, peak, took)) in [
        ("pcapng", read(pcapng_claiming_4_gib(Cursor::new(vec![0u8; 64])))),
        ("pcap", read(pcap_claiming_4_gib(Cursor::new(vec![0u8; 64])))),
    ] {
        eprintln!("{format}, 4 GiB claim, 64-byte body: {error:?}; peak heap {peak} bytes in {took:?}");
        assert!(
            matches!(error, Some(ReplayError::Truncated { .. } | ReplayError::Corrupt { .. })),
            "{format}: {error:?}"
        );
        assert!(peak < MIB, "{format}: {peak} bytes allocated for a 4 GiB claim in a tiny file");
        assert!(took < Duration::from_secs(5), "{format}: took {took:?}");
    }

    // Endless input behind the claim: the buffer grows with the bytes that
    // arrive, stops at its 64 MiB cap and the block is reported corrupt,
    // long before the 4 GiB claimed (and the 256 MiB offered).
    for (format, (error, peak, took)) in [
        ("pcapng", read(pcapng_claiming_4_gib(io::repeat(0).take(256 * MIB as u64)))),
        ("pcap", read(pcap_claiming_4_gib(io::repeat(0).take(256 * MIB as u64)))),
    ] {
        let message = error.as_ref().map(ToString::to_string).unwrap_or_default();
        eprintln!("{format}, 4 GiB claim, endless body: {message}; peak heap {} MiB in {took:?}", peak / MIB);
        assert!(
            matches!(error, Some(ReplayError::Corrupt { .. })) && message.contains("larger than 64 MiB"),
            "{format}: {error:?}"
        );
        assert!(message.contains("huge.cap"), "{format}: the error names the input: {message}");
        assert!(peak <= 128 * MIB, "{format}: peak heap {} MiB", peak / MIB);
        assert!(took < Duration::from_secs(60), "{format}: took {took:?}");
    }
}
