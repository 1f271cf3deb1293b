//! Reading a file a user named, with a bound: the scenario itself and every certificate,
//! key and trust file it names go through [`read_bounded`], so that no setting can make
//! the harness read without end (`/dev/zero`) or block forever (a FIFO with no writer).
//! Ground floor: it imports nothing of the crate; each caller phrases a [`Refusal`] in its
//! own error type, naming its own setting.

use std::path::Path;

/// Why [`read_bounded`] refused a file.
#[derive(Debug)]
pub enum Refusal {
    /// The OS could not open or read it.
    Io(std::io::Error),
    /// Not a regular file: a device, a FIFO, a socket or a directory, named. Such a file
    /// may never end (`/dev/zero`) or block the reader forever (a FIFO with no writer).
    NotAFile(&'static str),
    /// Longer than the limit (after reading one byte more than it, no further).
    TooLarge,
}

/// A regular file's bytes, at most `max_bytes` of them: the only way the loader reads a
/// file a scenario names (the scenario itself, certificates, keys, trust), so that no
/// setting can make it read without end.
pub fn read_bounded(path: &Path, max_bytes: u64) -> Result<Vec<u8>, Refusal> {
    use std::io::Read;
    let kind = std::fs::metadata(path).map_err(Refusal::Io)?.file_type();
    if !kind.is_file() {
        return Err(Refusal::NotAFile(file_kind(kind)));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes))
        .map_err(Refusal::Io)?;
    if u64::try_from(bytes.len()).map_or(true, |n| n > max_bytes) {
        return Err(Refusal::TooLarge);
    }
    Ok(bytes)
}

/// What a file that is not a regular file is, for an error message.
fn file_kind(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}
