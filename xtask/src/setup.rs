//! `cargo xtask setup`: make this machine able to build, run and test
//! flowwatch. Every step checks first and only installs what is missing, so a
//! second run is fast and changes nothing.

use std::{
    fs,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::util::{self, cmd};

/// The bpf-linker release the toolchain recipe in DESIGN.md was verified with.
const BPF_LINKER_VERSION: &str = "0.13.0";

/// Debian packages building the agent needs, with why.
const BUILD_PACKAGES: &[(&str, &str)] =
    &[("libpcap-dev", "libpcap to link against: -f filter expressions are compiled and run by libpcap")];

/// Debian packages the integration tests and benchmarks call, with why.
const PACKAGES: &[(&str, &str)] = &[
    ("iproute2", "ip netns / veth / tc for the privileged tests"),
    ("ethtool", "turning veth offloads off"),
    ("tcpdump", "reference packet counts"),
    ("tshark", "reference flow counts; brings editcap/mergecap/capinfos for the replay bench"),
    ("tcpreplay", "pcap replay into veth"),
    ("netsniff-ng", "trafgen packet generator"),
    ("bpftool", "bpf_stats per-program cost"),
    ("python3", "raw frame injection helpers"),
    ("python3-sklearn", "scikit-learn IsolationForest side by side in the models benchmark"),
    ("iputils-ping", "ICMP echo traffic in the privileged tests"),
    ("python3-aiosmtpd", "a real SMTP server for the mail sink tests"),
];

/// Which parts of setup a command needs.
#[derive(Clone, Copy)]
pub struct Parts {
    /// Nightly, rust-src and bpf-linker: everything `cargo build -p agent` needs.
    pub toolchain: bool,
    /// Debian packages for tests and benchmarks, and bpffs.
    pub host: bool,
}

impl Parts {
    pub const ALL: Self = Self { toolchain: true, host: true };
    pub const TOOLCHAIN: Self = Self { toolchain: true, host: false };
}

/// Progress of one setup run, printed as it goes and summarised at the end.
struct Report {
    started: Instant,
    checked: usize,
    installed: Vec<String>,
}

impl Report {
    fn ok(&mut self, what: impl AsRef<str>) {
        self.checked += 1;
        eprintln!("  ok         {}", what.as_ref());
    }

    fn installed(&mut self, what: impl Into<String>) {
        let what = what.into();
        self.checked += 1;
        eprintln!("  installed  {what}");
        self.installed.push(what);
    }

    fn note(&self, what: impl AsRef<str>) {
        eprintln!("  note       {}", what.as_ref());
    }
}

pub fn run(parts: Parts) -> Result<()> {
    eprintln!("setup: checking what flowwatch needs on this machine");
    let mut report = Report { started: Instant::now(), checked: 0, installed: Vec::new() };
    if parts.toolchain {
        ensure_nightly(&mut report)?;
        ensure_rust_src(&mut report)?;
        ensure_bpf_linker(&mut report)?;
        ensure_packages(&mut report, BUILD_PACKAGES)?;
    }
    if parts.host {
        ensure_packages(&mut report, PACKAGES)?;
        ensure_bpffs(&mut report)?;
    }
    let installed = if report.installed.is_empty() {
        "nothing installed".to_owned()
    } else {
        format!("installed: {}", report.installed.join("; "))
    };
    eprintln!("setup: done in {} ({} checked, {installed})", util::secs(report.started.elapsed()), report.checked);
    Ok(())
}

// ---------------------------------------------------------------- toolchain

fn ensure_nightly(report: &mut Report) -> Result<()> {
    let list = util::output(cmd("rustup").args(["toolchain", "list"]))
        .context("rustup is needed to manage the nightly toolchain; install it from https://rustup.rs")?;
    if let Some(name) = list.lines().find(|l| l.starts_with("nightly-")) {
        let name = name.split_whitespace().next().unwrap_or(name);
        report.ok(format!("nightly toolchain ({name})"));
        return Ok(());
    }
    util::run(cmd("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))
        .context("could not install the nightly toolchain the eBPF programs are built with")?;
    report.installed("nightly toolchain");
    Ok(())
}

fn nightly_sysroot() -> Result<PathBuf> {
    // `rustup run nightly` rather than `rustc +nightly`: inside `cargo xtask`
    // the PATH may lead to a toolchain's own rustc, which knows no `+`.
    let out = util::output(cmd("rustup").args(["run", "nightly", "rustc", "--print", "sysroot"]))
        .context("could not ask the nightly rustc for its sysroot")?;
    Ok(PathBuf::from(out.trim()))
}

fn ensure_rust_src(report: &mut Report) -> Result<()> {
    let library = nightly_sysroot()?.join("lib/rustlib/src/rust/library");
    if library.is_dir() {
        report.ok("rust-src for nightly (needed by -Z build-std=core)");
        return Ok(());
    }
    util::run(cmd("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]))
        .context("could not add rust-src to nightly; the eBPF crate needs it for -Z build-std")?;
    report.installed("rust-src for nightly");
    Ok(())
}

/// The LLVM major of the nightly rustc (`LLVM version: 22.1.4` → 22).
fn nightly_llvm_major() -> Result<u32> {
    let out = util::output(cmd("rustup").args(["run", "nightly", "rustc", "-vV"]))
        .context("could not run the nightly rustc")?;
    parse_llvm_major(&out).context("`rustc +nightly -vV` printed no parsable `LLVM version:` line")
}

fn parse_llvm_major(rustc_vv: &str) -> Option<u32> {
    rustc_vv
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version:"))
        .and_then(|v| v.trim().split('.').next())
        .and_then(|major| major.parse().ok())
}

/// LLVM major encoded in a libLLVM file name: `libLLVM.so.22.1-rust-…` or
/// `libLLVM-22-rust-….so` → 22.
fn soname_llvm_major(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("libLLVM.so.").or_else(|| name.strip_prefix("libLLVM-"))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// What `ldd bpf-linker` says about libLLVM: `Some(major)` when it resolves.
fn linked_llvm_major(bpf_linker: &Path) -> Option<u32> {
    let ldd = util::output(cmd("ldd").arg(bpf_linker)).ok()?;
    ldd.lines().find_map(|line| {
        let (name, target) = line.trim().split_once("=>")?;
        let name = name.trim();
        if !name.starts_with("libLLVM") || target.contains("not found") {
            return None;
        }
        soname_llvm_major(name)
    })
}

fn stamp_contents(llvm_major: u32) -> String {
    format!("bpf-linker {BPF_LINKER_VERSION} llvm-{llvm_major}\n")
}

fn ensure_bpf_linker(report: &mut Report) -> Result<()> {
    let major = nightly_llvm_major()?;
    let base = util::cargo_home()?.join("flowwatch-llvm");
    let stamp = base.join("bpf-linker.stamp");
    let wanted_stamp = stamp_contents(major);

    let installed = util::find_program("bpf-linker");
    // `--version` fails outright when libLLVM cannot be loaded, which is one
    // of the ways a previous build goes stale (nightly updated or its
    // symlink folder removed).
    let version_ok = installed.as_deref().is_some_and(|path| {
        util::output(cmd(path).arg("--version")).is_ok_and(|v| v.split_whitespace().nth(1) == Some(BPF_LINKER_VERSION))
    });
    let linked = installed.as_deref().and_then(linked_llvm_major);

    if let Some(path) = installed.as_deref().filter(|_| version_ok) {
        let stamp_now = fs::read_to_string(&stamp).ok();
        match (stamp_now.as_deref() == Some(wanted_stamp.as_str()), linked) {
            (true, Some(l)) if l == major => {
                report.ok(format!(
                    "bpf-linker {BPF_LINKER_VERSION} linked against nightly's LLVM {major} ({})",
                    path.display()
                ));
                return Ok(());
            }
            (false, Some(l)) if l == major && stamp_now.is_none() => {
                // Built before xtask kept a stamp (e.g. by hand with the same
                // recipe): it works and matches, so adopt it instead of
                // spending minutes rebuilding.
                write_stamp(&stamp, &wanted_stamp)?;
                report.ok(format!(
                    "bpf-linker {BPF_LINKER_VERSION} linked against LLVM {major} ({}); recorded in {}",
                    path.display(),
                    stamp.display()
                ));
                return Ok(());
            }
            (_, linked) => {
                let why = match linked {
                    Some(l) if l == major => format!(
                        "{} records {:?}, not {:?}",
                        stamp.display(),
                        stamp_now.as_deref().unwrap_or_default().trim(),
                        wanted_stamp.trim()
                    ),
                    Some(l) => format!("nightly has LLVM {major}, the binary links LLVM {l}"),
                    None => "its libLLVM no longer resolves (`ldd` says not found)".to_owned(),
                };
                report.note(format!("rebuilding bpf-linker at {}: {why}", path.display()));
            }
        }
    } else if let Some(path) = &installed {
        report.note(format!("{} is not a working bpf-linker {BPF_LINKER_VERSION}; rebuilding", path.display()));
    }

    let built = install_bpf_linker(major, &base.join(major.to_string()))?;
    if let Some(found) = util::find_program("bpf-linker").filter(|found| *found != built) {
        bail!(
            "built {} but rustc will find {} first on PATH; remove that one or put {} earlier in PATH",
            built.display(),
            found.display(),
            built.parent().unwrap_or(&built).display()
        );
    }
    write_stamp(&stamp, &wanted_stamp)?;
    report.installed(format!("bpf-linker {BPF_LINKER_VERSION} against nightly's LLVM {major}"));
    Ok(())
}

fn write_stamp(stamp: &Path, contents: &str) -> Result<()> {
    if let Some(dir) = stamp.parent() {
        fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    }
    fs::write(stamp, contents).with_context(|| format!("could not write {}", stamp.display()))
}

/// Builds bpf-linker against the libLLVM shipped inside the nightly
/// toolchain: no llvm-config, headers or other downloads are needed, and the
/// linker's LLVM always matches the one rustc emits bitcode for.
/// Returns the path of the installed binary.
fn install_bpf_linker(major: u32, prefix: &Path) -> Result<PathBuf> {
    let sysroot_lib = nightly_sysroot()?.join("lib");
    let versioned = fs::read_dir(&sysroot_lib)
        .with_context(|| format!("could not list {}", sysroot_lib.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.file_name()))
        .filter_map(|name| name.into_string().ok())
        .find(|name| name.starts_with("libLLVM.so.") && soname_llvm_major(name) == Some(major))
        .with_context(|| {
            format!(
                "no libLLVM.so.{major}.* in {}; reinstall nightly with `rustup toolchain install nightly --force`",
                sysroot_lib.display()
            )
        })?;

    // P/lib holds only the two links llvm-sys looks for; the folder is
    // stable (under CARGO_HOME) because the built linker keeps it as RUNPATH.
    let lib = prefix.join("lib");
    if lib.exists() {
        fs::remove_dir_all(&lib).with_context(|| format!("could not clear {}", lib.display()))?;
    }
    fs::create_dir_all(&lib).with_context(|| format!("could not create {}", lib.display()))?;
    let target = sysroot_lib.join(&versioned);
    for link in ["libLLVM.so", versioned.as_str()] {
        std::os::unix::fs::symlink(&target, lib.join(link))
            .with_context(|| format!("could not link {} -> {}", lib.join(link).display(), target.display()))?;
    }

    let mut install = cmd("cargo");
    install
        .env("LLVM_PREFIX", prefix)
        .args(["install", "bpf-linker", "--version", BPF_LINKER_VERSION, "--locked"])
        .args(["--no-default-features", "--features", &format!("llvm-{major}")])
        // We only get here when the installed one is unusable or stale, and
        // cargo keeps an installed 0.13.0 without --force.
        .arg("--force");
    eprintln!("  building bpf-linker (about 1-2 minutes on 2 cores)");
    util::run(&mut install).context("building bpf-linker failed; see cargo's output above")?;

    let built = util::cargo_home()?.join("bin/bpf-linker");
    if linked_llvm_major(&built) != Some(major) {
        bail!(
            "{} was built but does not load nightly's libLLVM {major}; check `ldd {}`",
            built.display(),
            built.display()
        );
    }
    Ok(built)
}

// --------------------------------------------------------------------- host

/// Whether dpkg considers `package` installed (`missing` for unknown ones).
fn dpkg_installed(package: &str) -> Result<bool> {
    let out = cmd("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .context("dpkg-query not found: this is not a Debian-based system")?;
    // Exit status 1 means "no such package", i.e. not installed.
    Ok(out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "install ok installed")
}

fn ensure_packages(report: &mut Report, packages: &[(&str, &str)]) -> Result<()> {
    let names: Vec<&str> = packages.iter().map(|(name, _)| *name).collect();
    let mut missing = Vec::new();
    for name in &names {
        let installed = dpkg_installed(name)
            .with_context(|| format!("install these by hand with your package manager: {}", names.join(" ")))?;
        if !installed {
            missing.push(*name);
        }
    }
    if missing.is_empty() {
        report.ok(format!("Debian packages: {}", names.join(", ")));
        return Ok(());
    }
    for (name, why) in packages.iter().filter(|(name, _)| missing.contains(name)) {
        report.note(format!("missing {name} ({why})"));
    }
    if !util::is_root() {
        bail!(
            "missing Debian packages: {0}. Installing them needs root: run \
             `sudo apt-get install -y --no-install-recommends {0}` or rerun as root",
            missing.join(" ")
        );
    }

    if missing.contains(&"tshark") {
        // Without this, tshark's postinst asks whether non-root users may
        // capture, which blocks a non-interactive install.
        util::run_with_stdin(
            &mut cmd("debconf-set-selections"),
            "wireshark-common wireshark-common/install-setuid boolean false\n",
        )?;
    }
    util::run(cmd("apt-get").arg("update")).context("apt-get update failed")?;
    util::run(
        cmd("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing),
    )
    .context("apt-get install failed; see its output above")?;
    report.installed(format!("Debian packages: {}", missing.join(", ")));
    Ok(())
}

/// Whether a bpf filesystem is mounted at `mount_point` per /proc/mounts.
fn bpffs_mounted(mounts: &str, mount_point: &str) -> bool {
    mounts.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let (_, dir, fstype) = (fields.next(), fields.next(), fields.next());
        dir == Some(mount_point) && fstype == Some("bpf")
    })
}

/// bpffs is optional (flowwatch does not pin), but bpftool and debugging
/// with pinned maps expect it, and many minimal systems do not mount it.
fn ensure_bpffs(report: &mut Report) -> Result<()> {
    const BPFFS: &str = "/sys/fs/bpf";
    let mounts = fs::read_to_string("/proc/mounts").context("could not read /proc/mounts")?;
    if bpffs_mounted(&mounts, BPFFS) {
        report.ok(format!("bpffs mounted at {BPFFS}"));
    } else if util::is_root() {
        util::run(cmd("mount").args(["-t", "bpf", "bpf", BPFFS]))
            .with_context(|| format!("could not mount bpffs at {BPFFS}"))?;
        report.installed(format!("bpffs mounted at {BPFFS}"));
    } else {
        report.note(format!("bpffs is not mounted at {BPFFS} (optional; needs root to mount)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llvm_major_from_rustc_vv() {
        let vv = "rustc 1.97.0-nightly (e50aa6fba 2026-05-19)\nbinary: rustc\n\
                  host: x86_64-unknown-linux-gnu\nrelease: 1.97.0-nightly\nLLVM version: 22.1.4\n";
        assert_eq!(parse_llvm_major(vv), Some(22));
        assert_eq!(parse_llvm_major("rustc 1.0\n"), None);
    }

    #[test]
    fn llvm_major_from_file_names() {
        assert_eq!(soname_llvm_major("libLLVM.so.22.1-rust-1.97.0-nightly"), Some(22));
        assert_eq!(soname_llvm_major("libLLVM-22-rust-1.97.0-nightly.so"), Some(22));
        assert_eq!(soname_llvm_major("libLLVM.so"), None);
        assert_eq!(soname_llvm_major("librustc_driver.so"), None);
    }

    #[test]
    fn bpffs_detection() {
        let mounts = "sysfs /sys sysfs rw 0 0\nbpf /sys/fs/bpf bpf rw,relatime 0 0\n";
        assert!(bpffs_mounted(mounts, "/sys/fs/bpf"));
        assert!(!bpffs_mounted("sysfs /sys sysfs rw 0 0\n", "/sys/fs/bpf"));
    }
}
