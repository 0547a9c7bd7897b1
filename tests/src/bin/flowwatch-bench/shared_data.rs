//! Where the shared data (`../shared/data`: captures, GeoIP databases) is,
//! for every section that reads it.

use std::path::{Path, PathBuf};

/// The variable `cargo xtask bench` sets.
pub const SHARED_DATA_ENV: &str = "FLOWWATCH_SHARED_DATA";

/// `$FLOWWATCH_SHARED_DATA`, else `../shared/data` beside the checkout, as
/// the workspace layout puts it.
pub fn shared_data_dir() -> PathBuf {
    std::env::var_os(SHARED_DATA_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
}
