//! Writes files into a directory others may be able to write too (the folder a CSV was
//! dropped into, a scan's `--out`): a file is written new beside its place and then renamed
//! into it, never opened through a link, and a link planted where a file goes is refused by
//! name rather than followed to whatever it points at. `bulk`'s reports and state, the
//! readiness scan's files and a downloaded scan are all written this way.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` as the new file at `path`.
///
/// # Errors
///
/// When `path` is a link (the message says so and what to do), or the directory cannot be
/// written.
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = NewFile::create(path)?;
    file.write_all(bytes)?;
    file.keep()
}

/// A file written new beside its place, never through a link, and renamed into its place by
/// [`NewFile::keep`]; dropped without being kept, it is removed.
pub struct NewFile {
    file: Option<std::fs::File>,
    temporary: PathBuf,
    path: PathBuf,
}

impl NewFile {
    /// Starts the file that will be `path`.
    ///
    /// # Errors
    ///
    /// When `path` is a link (the message says so and what to do), or the directory cannot be
    /// written.
    pub fn create(path: &Path) -> std::io::Result<NewFile> {
        refuse_link(path)?;
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let random: String = rand::random::<[u8; 8]>()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let temporary = path.with_file_name(format!(".{name}.{random}.tmp"));
        let file =
            no_follow(std::fs::OpenOptions::new().write(true).create_new(true)).open(&temporary)?;
        Ok(NewFile {
            file: Some(file),
            temporary,
            path: path.to_owned(),
        })
    }

    /// Puts the file in its place. Renaming replaces a link planted meanwhile by the file
    /// itself, never its target.
    ///
    /// # Errors
    ///
    /// When the file cannot be written out or renamed.
    pub fn keep(mut self) -> std::io::Result<()> {
        if let Some(file) = self.file.take() {
            file.sync_all()?;
        }
        std::fs::rename(&self.temporary, &self.path)
    }
}

impl Write for NewFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match &mut self.file {
            Some(file) => file.write(bytes),
            None => Err(std::io::Error::other("the file was already kept")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
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

/// Makes `options` refuse to open a symbolic link (on Unix; Windows opens the link itself).
pub fn no_follow(options: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, libc::O_NOFOLLOW);
    options
}
