//! The benchmark's reference programs (agent-ebpf/src/bench_reference.rs):
//! an empty XDP program and a minimal 5-tuple counter, loaded from the
//! embedded object so the bench compares like with like on this machine.

use aya::{
    Ebpf,
    programs::{Xdp, XdpMode},
};

use super::{BENCH_REFERENCE_OBJECT, CaptureError, ProgramStats, attach::program_mut, program_stats};

pub const REFERENCE_EMPTY: &str = "reference_empty";
pub const REFERENCE_COUNTER: &str = "reference_counter";

pub struct ReferencePrograms {
    ebpf: Ebpf,
}

impl ReferencePrograms {
    pub fn load() -> Result<Self, CaptureError> {
        let mut ebpf = aya::Ebpf::load(BENCH_REFERENCE_OBJECT).map_err(CaptureError::Load)?;
        for name in [REFERENCE_EMPTY, REFERENCE_COUNTER] {
            program_mut::<Xdp>(&mut ebpf, name)?
                .load()
                .map_err(|source| CaptureError::Verify { program: name, source })?;
        }
        Ok(Self { ebpf })
    }

    /// Attaches one reference program (driver mode) to an interface.
    pub fn attach(&mut self, program: &'static str, interface: &str) -> Result<(), CaptureError> {
        program_mut::<Xdp>(&mut self.ebpf, program)?
            .attach(interface, XdpMode::Driver)
            .map_err(|source| CaptureError::Attach { program, interface: interface.to_owned(), source })?;
        Ok(())
    }

    pub fn stats(&self) -> Vec<ProgramStats> {
        program_stats(&self.ebpf, &[REFERENCE_EMPTY, REFERENCE_COUNTER])
    }
}
