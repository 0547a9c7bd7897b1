use aya::{EbpfError, maps::MapError, programs::ProgramError};

use crate::iface::InterfaceError;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(
        "flowwatch needs root, or the capabilities CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, to load its \
         eBPF programs; run it as root (sudo flowwatch …) or grant them with setcap"
    )]
    NotPrivileged,
    #[error(
        "this kernel cannot run flowwatch's programs: {detail}. flowwatch needs Linux ≥ 5.15 built with \
         CONFIG_BPF_SYSCALL, CONFIG_DEBUG_INFO_BTF and BPF JIT"
    )]
    KernelUnsupported { detail: String },
    #[error(transparent)]
    Interface(#[from] InterfaceError),
    #[error("loading the eBPF object failed: {0}")]
    Load(#[source] EbpfError),
    #[error("program {program} is missing from the eBPF object (build mismatch; rebuild with `cargo xtask build`)")]
    MissingProgram { program: &'static str },
    #[error("map {map} is missing from the eBPF object (build mismatch; rebuild with `cargo xtask build`)")]
    MissingMap { map: &'static str },
    #[error("the kernel rejected program {program}: {source}")]
    Verify {
        program: &'static str,
        #[source]
        source: ProgramError,
    },
    #[error(
        "interface {interface} already has an XDP program attached; flowwatch will not replace it. \
         Inspect it with `ip link show dev {interface}` or `bpftool net show dev {interface}` and detach \
         it first (`ip link set dev {interface} xdp off`)"
    )]
    XdpAlreadyAttached { interface: String },
    #[error("attaching {program} to {interface} failed: {source}")]
    Attach {
        program: &'static str,
        interface: String,
        #[source]
        source: ProgramError,
    },
    #[error("test run of {program} (BPF_PROG_TEST_RUN) failed: {source}")]
    TestRun {
        program: &'static str,
        #[source]
        source: ProgramError,
    },
    #[error("-w packet sampling: {detail}")]
    Sampling { detail: String },
    #[error("map {map}: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: MapError,
    },
}
