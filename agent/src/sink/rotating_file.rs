//! An append-only line file rotated by size: `foo.ndjson` becomes
//! `foo.ndjson.1`, the previous `.1` becomes `.2`, and so on up to `keep`.

use std::{
    ffi::OsString,
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
};

/// When to start a new file and how many old ones to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// A line that would take the file past this many bytes goes to a new file.
    pub max_size: u64,
    /// Rotated files kept (`.1` newest … `.keep` oldest); 0 keeps none.
    pub keep: usize,
}

#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    rotation: Option<Rotation>,
}

impl RotatingFile {
    /// Opens `path` for appending (created if missing): a restarted agent
    /// continues the file instead of losing what is there.
    pub fn open(path: &Path, rotation: Option<Rotation>) -> io::Result<Self> {
        Ok(Self { path: path.to_owned(), file: open_append(path)?, rotation })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one complete line (newline included) with a single write, so a
    /// line is never split across files or interleaved with another writer's.
    /// Rotates first when the line would take the file past `max_size`; a line
    /// longer than `max_size` gets a file of its own.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if let Some(rotation) = self.rotation {
            // The file's real size, not a running count: it stays right if
            // someone else truncates or appends to the file.
            let size = self.file.metadata()?.len();
            if size > 0 && size + line.len() as u64 > rotation.max_size {
                self.rotate(rotation.keep)?;
            }
        }
        self.file.write_all(line)
    }

    fn rotate(&mut self, keep: usize) -> io::Result<()> {
        if keep == 0 {
            remove_if_present(&self.path)?;
        } else {
            remove_if_present(&numbered(&self.path, keep))?;
            for n in (1..keep).rev() {
                rename_if_present(&numbered(&self.path, n), &numbered(&self.path, n + 1))?;
            }
            fs::rename(&self.path, numbered(&self.path, 1))?;
        }
        self.file = open_append(&self.path)?;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// `foo.ndjson` → `foo.ndjson.N`.
fn numbered(path: &Path, n: usize) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

fn rename_if_present(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> io::Result<String> {
        fs::read_to_string(path)
    }

    #[test]
    fn appends_across_opens() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("events.ndjson");
        RotatingFile::open(&path, None)?.write_line(b"first\n")?;
        RotatingFile::open(&path, None)?.write_line(b"second\n")?;
        assert_eq!(read(&path)?, "first\nsecond\n");
        Ok(())
    }

    #[test]
    fn rotates_at_the_bound_without_splitting_lines() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("events.ndjson");
        // 10-byte lines, at most 25 bytes per file: two lines fit, the third rotates.
        let mut file = RotatingFile::open(&path, Some(Rotation { max_size: 25, keep: 2 }))?;
        for line in ["line-0001\n", "line-0002\n", "line-0003\n", "line-0004\n", "line-0005\n", "line-0006\n"] {
            file.write_line(line.as_bytes())?;
        }
        file.write_line(b"line-0007\n")?;
        assert_eq!(read(&path)?, "line-0007\n");
        assert_eq!(read(&numbered(&path, 1))?, "line-0005\nline-0006\n");
        assert_eq!(read(&numbered(&path, 2))?, "line-0003\nline-0004\n");
        // keep = 2: the oldest pair was deleted.
        assert!(!numbered(&path, 3).exists());
        let names = fs::read_dir(dir.path())?.count();
        assert_eq!(names, 3);
        Ok(())
    }

    #[test]
    fn a_line_exactly_at_the_bound_stays_and_an_oversized_line_gets_its_own_file() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("e.log");
        let mut file = RotatingFile::open(&path, Some(Rotation { max_size: 8, keep: 1 }))?;
        file.write_line(b"abc\n")?;
        file.write_line(b"def\n")?; // exactly 8 bytes: no rotation
        file.write_line(b"0123456789\n")?; // longer than the bound on its own
        file.write_line(b"x\n")?;
        assert_eq!(read(&path)?, "x\n");
        assert_eq!(read(&numbered(&path, 1))?, "0123456789\n");
        assert!(!numbered(&path, 2).exists());
        Ok(())
    }

    #[test]
    fn keep_zero_starts_over() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("e.log");
        let mut file = RotatingFile::open(&path, Some(Rotation { max_size: 4, keep: 0 }))?;
        file.write_line(b"aa\n")?;
        file.write_line(b"bb\n")?;
        assert_eq!(read(&path)?, "bb\n");
        assert_eq!(fs::read_dir(dir.path())?.count(), 1);
        Ok(())
    }

    #[test]
    fn rotation_continues_a_file_that_was_already_full() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("e.log");
        fs::write(&path, "old-line\n")?;
        let mut file = RotatingFile::open(&path, Some(Rotation { max_size: 10, keep: 3 }))?;
        file.write_line(b"new\n")?;
        assert_eq!(read(&path)?, "new\n");
        assert_eq!(read(&numbered(&path, 1))?, "old-line\n");
        Ok(())
    }
}
