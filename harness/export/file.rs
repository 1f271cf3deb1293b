//! Writing a generated configuration to a file all at once.
//!
//! A balancer that reloads while its configuration is half-written fails, or worse, runs
//! half a configuration. So the text goes to a temporary file beside the target (same
//! directory, so the rename stays on one file system), is flushed to disk, and is renamed
//! over the target: readers see the old file or the new one, never a part. On any error
//! the temporary file is removed and the target is untouched.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `text` to `path` atomically (temporary file, then rename).
///
/// Fails, leaving nothing behind, when the directory does not exist or is not writable,
/// when the temporary name is taken (another writer at the same time), or when `path`
/// names a directory.
pub fn write(path: &Path, text: &str) -> io::Result<()> {
    write_bytes(path, text.as_bytes())
}

/// [`write`] for bytes that are not text (a packet capture).
pub fn write_bytes(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = temporary(path)?;
    let result = write_new(&temp, bytes).and_then(|()| fs::rename(&temp, path));
    if result.is_err() {
        // The temporary file may not exist (creating it failed); either way nothing of
        // this attempt must stay behind, and the first error is the one worth reporting.
        if let Err(e) = fs::remove_file(&temp)
            && e.kind() != io::ErrorKind::NotFound
        {
            eprintln!("warning: could not remove {}: {e}", temp.display());
        }
    }
    result
}

/// `dir/.name.tmp-<pid>`: hidden, beside the target, unique per process.
fn temporary(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "expected a file name, not a directory",
        )
    })?;
    let mut temp = OsName::from(".");
    temp.push(name);
    temp.push(format!(".tmp-{}", std::process::id()));
    Ok(path.with_file_name(temp))
}

type OsName = std::ffi::OsString;

fn write_new(temp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(temp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves a write replaces the file whole, and a write into a missing directory fails
    /// without creating anything.
    #[test]
    fn replaces_whole_or_fails_clean() {
        let dir = std::env::temp_dir().join(format!("harness-export-file-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("haproxy.cfg");
        write(&path, "old\n").unwrap();
        write(&path, "new\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        let entries: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(entries.len(), 1, "no temporary file left behind");
        let missing = dir.join("no-such-dir").join("haproxy.cfg");
        assert_eq!(
            write(&missing, "x").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(!dir.join("no-such-dir").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
