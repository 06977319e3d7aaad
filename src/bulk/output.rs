//! Writing the report's files into the output directory, which others may be able to write
//! too (the folder a CSV was dropped into): a file is written new beside its place and then
//! renamed into it, never opened through a link, and a link planted where a report goes is
//! refused by name rather than followed to whatever it points at.

use std::io::Write;
use std::path::Path;

use super::state_key::no_follow;

/// Writes `bytes` as the new file at `path`.
///
/// # Errors
///
/// `path` is a link (the message says so and what to do), or the directory cannot be written.
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    refuse_link(path)?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(
        ".{name}.{}.tmp",
        super::state_key::hex_encode(&rand::random::<[u8; 8]>())
    ));
    let written = no_follow(std::fs::OpenOptions::new().write(true).create_new(true))
        .open(&temporary)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()));
    // Renaming replaces a link planted meanwhile by the file itself, never its target.
    let renamed = written.and_then(|()| std::fs::rename(&temporary, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    renamed
}

/// `Err` when `path` is a symbolic link.
fn refuse_link(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => Err(std::io::Error::other(format!(
            "{} is a link: refusing to write through it (someone may have planted it to \
             overwrite another file); remove it and run again",
            path.display()
        ))),
        _ => Ok(()),
    }
}
