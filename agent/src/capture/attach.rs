//! Attaching the two hooks to an interface. One code path for both hooks'
//! loading; attachment differs (XDP vs TC) only where the kernel differs.

use std::fmt;

use agent_common::names::{EGRESS_PROGRAM, INGRESS_PROGRAM};
use aya::{
    Ebpf,
    programs::{ProgramError, SchedClassifier, TcAttachType, Xdp, XdpError, XdpMode, tc},
};
use tracing::{debug, warn};

use super::CaptureError;

/// `--xdp-mode`: driver (native) is fastest; SKB (generic) works everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum XdpModeChoice {
    /// Driver mode, falling back to SKB mode when the driver lacks XDP.
    Auto,
    Driver,
    Skb,
}

/// The mode actually in use on an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpModeInUse {
    Driver,
    Skb,
}

impl fmt::Display for XdpModeInUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Driver => "driver",
            Self::Skb => "skb",
        })
    }
}

#[derive(Clone, Debug)]
pub struct AttachedInterface {
    pub name: String,
    pub index: u32,
    pub xdp_mode: XdpModeInUse,
}

pub(super) fn program_mut<'a, T>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut T, CaptureError>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = ProgramError>,
{
    let program = ebpf.program_mut(name).ok_or(CaptureError::MissingProgram { program: name })?;
    program.try_into().map_err(|source| CaptureError::Verify { program: name, source })
}

/// Loads (verifies) both programs once; they are attached per interface.
pub fn load_programs(ebpf: &mut Ebpf) -> Result<(), CaptureError> {
    program_mut::<Xdp>(ebpf, INGRESS_PROGRAM)?
        .load()
        .map_err(|source| CaptureError::Verify { program: INGRESS_PROGRAM, source })?;
    program_mut::<SchedClassifier>(ebpf, EGRESS_PROGRAM)?
        .load()
        .map_err(|source| CaptureError::Verify { program: EGRESS_PROGRAM, source })?;
    Ok(())
}

/// EBUSY from either attach path (bpf link, or netlink on older kernels):
/// another XDP program holds the interface.
fn is_busy(err: &ProgramError) -> bool {
    let errno = match err {
        ProgramError::SyscallError(e) => e.io_error.raw_os_error(),
        ProgramError::XdpError(XdpError::NetlinkError(e)) => e.raw_os_error(),
        _ => None,
    };
    errno == Some(libc::EBUSY)
}

pub fn attach_interface(
    ebpf: &mut Ebpf,
    name: &str,
    index: u32,
    choice: XdpModeChoice,
) -> Result<AttachedInterface, CaptureError> {
    let xdp_mode = attach_xdp(program_mut::<Xdp>(ebpf, INGRESS_PROGRAM)?, name, index, choice)?;
    attach_tc_egress(program_mut::<SchedClassifier>(ebpf, EGRESS_PROGRAM)?, EGRESS_PROGRAM, name)?;
    Ok(AttachedInterface { name: name.to_owned(), index, xdp_mode })
}

fn attach_xdp(program: &mut Xdp, name: &str, index: u32, choice: XdpModeChoice) -> Result<XdpModeInUse, CaptureError> {
    let attach_error = |source| {
        if is_busy(&source) {
            CaptureError::XdpAlreadyAttached { interface: name.to_owned() }
        } else {
            CaptureError::Attach { program: INGRESS_PROGRAM, interface: name.to_owned(), source }
        }
    };
    match choice {
        XdpModeChoice::Skb => {
            program.attach_to_if_index(index, XdpMode::Skb).map_err(attach_error)?;
            Ok(XdpModeInUse::Skb)
        }
        XdpModeChoice::Driver => {
            program.attach_to_if_index(index, XdpMode::Driver).map_err(attach_error)?;
            Ok(XdpModeInUse::Driver)
        }
        XdpModeChoice::Auto => match program.attach_to_if_index(index, XdpMode::Driver) {
            Ok(_) => Ok(XdpModeInUse::Driver),
            Err(err) if is_busy(&err) => Err(attach_error(err)),
            Err(err) => {
                warn!(interface = name, error = %err, "driver-mode XDP unavailable, falling back to SKB mode");
                program.attach_to_if_index(index, XdpMode::Skb).map_err(attach_error)?;
                Ok(XdpModeInUse::Skb)
            }
        },
    }
}

/// Attaches `program` (named `program_name`) on the egress of interface `name`.
pub(super) fn attach_tc_egress(
    program: &mut SchedClassifier,
    program_name: &'static str,
    name: &str,
) -> Result<(), CaptureError> {
    // Kernels ≥ 6.6 use TCX links and need no qdisc; older ones need clsact.
    // An existing clsact qdisc is fine and left in place.
    if let Err(err) = tc::qdisc_add_clsact(name) {
        debug!(interface = name, error = %err, "clsact qdisc not added (exists, or TCX in use)");
    }
    program.attach(name, TcAttachType::Egress).map_err(|source| CaptureError::Attach {
        program: program_name,
        interface: name.to_owned(),
        source,
    })?;
    Ok(())
}
