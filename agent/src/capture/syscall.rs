//! The two map operations aya 0.14 does not offer, as raw `bpf(2)` calls:
//! batched lookup and batched delete, one syscall for thousands of entries
//! instead of one or two per entry.

use std::{
    io,
    mem::size_of,
    os::fd::{AsRawFd, BorrowedFd},
};

use agent_common::flow::{FlowKey, FlowStats};

const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;
const BPF_MAP_DELETE_BATCH: libc::c_long = 27;

/// `union bpf_attr` for the batch commands.
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<()> {
    // SAFETY: attr is a properly laid-out bpf_attr prefix of the size passed.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, size_of::<T>() as u32) };
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Per-CPU values are laid out at 8-byte strides, one per possible CPU.
const VALUE_STRIDE: usize = size_of::<FlowStats>().next_multiple_of(8);

/// Reads a per-CPU flow map in batches, merging CPUs as it goes.
pub struct BatchReader {
    cpus: usize,
    batch: usize,
    keys: Vec<FlowKey>,
    values: Vec<FlowStats>,
}

impl BatchReader {
    pub fn new(cpus: usize) -> Self {
        let batch = 4096;
        Self { cpus, batch, keys: vec![FlowKey::default(); batch], values: vec![FlowStats::default(); batch * cpus] }
    }

    pub fn read_all(&mut self, map: BorrowedFd<'_>, mut merge: impl FnMut(FlowKey, &[FlowStats])) -> io::Result<()> {
        let mut cursor = [0u8; 8];
        let mut first = true;
        loop {
            let mut next = [0u8; 8];
            let mut attr = BatchAttr {
                in_batch: if first { 0 } else { cursor.as_ptr() as u64 },
                out_batch: next.as_mut_ptr() as u64,
                keys: self.keys.as_mut_ptr() as u64,
                values: self.values.as_mut_ptr() as u64,
                count: self.batch as u32,
                map_fd: map.as_raw_fd() as u32,
                ..BatchAttr::default()
            };
            let result = bpf(BPF_MAP_LOOKUP_BATCH, &mut attr);
            let filled = attr.count as usize;
            for i in 0..filled.min(self.batch) {
                merge(self.keys[i], &self.values[i * self.cpus..(i + 1) * self.cpus]);
            }
            match result {
                Ok(()) => {}
                // ENOENT: the walk reached the end (the last batch may be partial).
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
                // ENOSPC: one hash bucket holds more entries than the batch; grow and retry.
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) && filled == 0 => {
                    self.grow();
                    continue;
                }
                Err(e) => return Err(e),
            }
            cursor = next;
            first = false;
        }
    }

    fn grow(&mut self) {
        self.batch *= 2;
        self.keys.resize(self.batch, FlowKey::default());
        self.values.resize(self.batch * self.cpus, FlowStats::default());
    }
}

const _: () = assert!(VALUE_STRIDE == size_of::<FlowStats>(), "FlowStats must need no per-CPU padding");

/// Deletes `keys` from a hash map in as few calls as possible; keys no
/// longer in the map are skipped.
pub fn delete_batch(map: BorrowedFd<'_>, keys: &[FlowKey]) -> io::Result<()> {
    let mut rest = keys;
    while !rest.is_empty() {
        let mut attr = BatchAttr {
            keys: rest.as_ptr() as u64,
            count: rest.len().min(u32::MAX as usize) as u32,
            map_fd: map.as_raw_fd() as u32,
            ..BatchAttr::default()
        };
        let result = bpf(BPF_MAP_DELETE_BATCH, &mut attr);
        // The kernel stops at the first key it cannot delete; `count` says
        // how many it deleted before it.
        let done = (attr.count as usize).min(rest.len());
        rest = match result {
            Ok(()) => &rest[done..],
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => rest.get(done + 1..).unwrap_or_default(),
            Err(e) => return Err(e),
        };
    }
    Ok(())
}
