//! Keeps the key that signs a run's state: 64 random bytes in a file of the admin's own, kept
//! in their configuration directory (not beside the report) and created on first use readable
//! by them alone. Whoever can write the output directory (the folder a CSV was dropped into)
//! cannot read the key, so cannot write a state this command would take as its own.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::files::no_follow;

/// The key file's name in the configuration directory.
const FILE_NAME: &str = "bulk-state.key";
/// The key's length in bytes (written as hex): SHA-256's block size, which is HMAC's own key
/// length.
const KEY_BYTES: usize = 64;

/// The key, loaded.
#[derive(Clone)]
pub struct StateKey([u8; KEY_BYTES]);

impl StateKey {
    /// Reads the key at `path`, or creates it (owner-only) when there is none.
    ///
    /// # Errors
    ///
    /// When the file is a link, others may read or write it, or it cannot be read or created;
    /// the message says what is wrong and what to do.
    pub fn load_or_create(path: &Path) -> Result<StateKey, String> {
        match std::fs::symlink_metadata(path) {
            Ok(metadata) => {
                refuse_unsafe(path, &metadata)?;
                read(path)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => create(path),
            Err(error) => Err(format!(
                "the state key {} cannot be read: {error}",
                path.display()
            )),
        }
    }

    /// A key for tests and for a run that keeps no state.
    pub fn random() -> StateKey {
        StateKey(rand::random())
    }

    /// Computes the MAC of `bytes` after `previous` (the MAC of the line before).
    pub fn sign(&self, previous: &[u8], bytes: &[u8]) -> Vec<u8> {
        self.mac(previous, bytes).finalize().into_bytes().to_vec()
    }

    /// Whether `tag` is the MAC of `bytes` after `previous` (compared in constant time).
    pub fn verify(&self, previous: &[u8], bytes: &[u8], tag: &[u8]) -> bool {
        self.mac(previous, bytes).verify_slice(tag).is_ok()
    }

    fn mac(&self, previous: &[u8], bytes: &[u8]) -> Hmac<Sha256> {
        let key = hmac::digest::generic_array::GenericArray::from_slice(&self.0);
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(key);
        mac.update(previous);
        mac.update(bytes);
        mac
    }
}

/// Where the key lives by default: the admin's configuration directory
/// (`%APPDATA%\mfa-phone-handler`, `$XDG_CONFIG_HOME/mfa-phone-handler` or
/// `~/.config/mfa-phone-handler`).
pub fn default_path(lookup: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = if cfg!(windows) {
        lookup("APPDATA").map(PathBuf::from)
    } else {
        lookup("XDG_CONFIG_HOME")
            .filter(|directory| !directory.is_empty())
            .map(PathBuf::from)
            .or_else(|| lookup("HOME").map(|home| Path::new(&home).join(".config")))
    }?;
    Some(base.join("mfa-phone-handler").join(FILE_NAME))
}

fn refuse_unsafe(path: &Path, metadata: &std::fs::Metadata) -> Result<(), String> {
    if metadata.file_type().is_symlink() || !metadata.is_file() {
        return Err(format!(
            "the state key {} is not a plain file (a link?): remove it and run again (a new \
             key is made; a run begun with the old one then starts afresh)",
            path.display()
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if metadata.uid() != me || metadata.mode() & 0o077 != 0 {
            return Err(format!(
                "the state key {} belongs to someone else or others may read it: make it yours \
                 alone (chmod 600), or remove it and run again",
                path.display()
            ));
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<StateKey, String> {
    let mut text = String::new();
    no_follow(std::fs::OpenOptions::new().read(true))
        .open(path)
        .and_then(|mut file| file.read_to_string(&mut text))
        .map_err(|error| format!("the state key {} cannot be read: {error}", path.display()))?;
    let bytes = hex_decode(text.trim())
        .filter(|bytes| bytes.len() == KEY_BYTES)
        .ok_or_else(|| {
            format!(
                "the state key {} is not a key this command wrote: remove it and run again",
                path.display()
            )
        })?;
    let mut key = [0; KEY_BYTES];
    key.copy_from_slice(&bytes);
    Ok(StateKey(key))
}

fn create(path: &Path) -> Result<StateKey, String> {
    let describe =
        |error: std::io::Error| format!("the state key {} cannot be made: {error}", path.display());
    if let Some(directory) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(directory).map_err(describe)?;
    }
    let key = StateKey::random();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(describe)?;
    file.write_all(hex_encode(&key.0).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(describe)?;
    Ok(key)
}

/// Encodes bytes as lower-case hex.
pub fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Decodes bytes from hex; `None` for anything else.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(&text[index..index + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_for_its_owner_alone_and_read_again() {
        let directory = std::env::temp_dir().join(format!("bulk-key-{}", uuid::Uuid::new_v4()));
        let path = directory.join("nested").join(FILE_NAME);
        let made = StateKey::load_or_create(&path).expect("made");
        let read = StateKey::load_or_create(&path).expect("read");
        assert_eq!(made.0, read.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("there")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
                .expect("loosened");
            let refused = StateKey::load_or_create(&path).err().expect("refused");
            assert!(refused.contains("chmod 600"), "{refused}");
        }
        let tag = made.sign(b"", b"line");
        assert!(made.verify(b"", b"line", &tag));
        assert!(!made.verify(b"", b"other", &tag));
        assert!(!StateKey::random().verify(b"", b"line", &tag));
    }
}
