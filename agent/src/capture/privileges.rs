//! Up-front checks, so a missing privilege or kernel feature gets a message
//! that says what to do instead of a bare EPERM from the loader.

use std::{fs, path::Path};

use super::CaptureError;

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

fn effective_capabilities() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
    u64::from_str_radix(hex, 16).ok()
}

pub fn check() -> Result<(), CaptureError> {
    let Some(caps) = effective_capabilities() else {
        // No procfs: let the loader report what happens.
        return Ok(());
    };
    let has = |cap: u32| caps & (1u64 << cap) != 0;
    let bpf = has(CAP_BPF) || has(CAP_SYS_ADMIN);
    let perfmon = has(CAP_PERFMON) || has(CAP_SYS_ADMIN);
    if bpf && perfmon && has(CAP_NET_ADMIN) { Ok(()) } else { Err(CaptureError::NotPrivileged) }
}

pub fn check_kernel() -> Result<(), CaptureError> {
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Err(CaptureError::KernelUnsupported { detail: "/sys/kernel/btf/vmlinux is missing (no BTF)".into() });
    }
    Ok(())
}
