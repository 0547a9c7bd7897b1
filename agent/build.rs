//! Builds the kernel programs (agent-ebpf) with the nightly toolchain and
//! bpf-linker through aya-build; the object is embedded in the binary with
//! `include_bytes_aligned!`, so nothing is loaded from a path at run time.
//! `cargo xtask setup` installs the toolchain pieces this needs.

use std::path::Path;

fn main() -> anyhow::Result<()> {
    let manifest_dir = env!("CARGO_MANIFEST_DIR");
    let workspace =
        Path::new(manifest_dir).parent().ok_or_else(|| anyhow::anyhow!("agent crate has no parent directory"))?;
    let ebpf_dir = workspace.join("agent-ebpf");
    let common_dir = workspace.join("agent-common");
    // aya-build watches the eBPF crate; the shared crate must be watched too,
    // or a change to the parser would leave a stale kernel object.
    println!("cargo:rerun-if-changed={}", common_dir.display());
    let root_dir = ebpf_dir.to_str().ok_or_else(|| anyhow::anyhow!("non-UTF-8 path {}", ebpf_dir.display()))?;
    aya_build::build_ebpf(
        [aya_build::Package { name: "agent-ebpf", root_dir, ..Default::default() }],
        aya_build::Toolchain::default(),
    )
}
