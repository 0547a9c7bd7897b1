use which::which;

/// Rebuild the kernel programs when bpf-linker changes (for instance after
/// `cargo xtask setup` rebuilt it against a new nightly LLVM).
fn main() {
    if let Ok(bpf_linker) = which("bpf-linker") {
        println!("cargo:rerun-if-changed={}", bpf_linker.display());
    }
}
