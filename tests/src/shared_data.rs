//! Where the shared data (`../shared/data`: captures, GeoIP databases) is,
//! for the bench and the tests that read it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

/// The variable `cargo xtask test` and `cargo xtask bench` set.
pub const SHARED_DATA_ENV: &str = "FLOWWATCH_SHARED_DATA";

/// `$FLOWWATCH_SHARED_DATA`, else `../shared/data` beside the checkout, as
/// the workspace layout puts it.
pub fn shared_data_dir() -> PathBuf {
    std::env::var_os(SHARED_DATA_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
}

/// Every capture (`.pcap`, `.pcapng`) under the shared data's `pcaps/`, at
/// any depth, sorted; an error when a folder cannot be read or holds none.
pub fn shared_captures() -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let root = shared_data_dir().join("pcaps");
    let mut pending = vec![root.clone()];
    while let Some(folder) = pending.pop() {
        let entries = std::fs::read_dir(&folder)
            .with_context(|| format!("reading {} (set {SHARED_DATA_ENV} to ../shared/data)", folder.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if matches!(path.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")) {
                found.push(path);
            }
        }
    }
    ensure!(!found.is_empty(), "no captures under {}", root.display());
    found.sort();
    Ok(found)
}
