//! The generated key of an installation without `fernetKey`: a file in the data folder, made
//! on first start with mode 0600 and never replaced. Two processes starting at once on an
//! empty folder both end up with the one key that was linked into place first.

use super::fernet::FernetKey;
use std::io::Write;
use std::path::Path;

/// The file's name in `storage.fs.path`.
pub(crate) const FILE_NAME: &str = "fernet.key";

/// Reads the key at `path`, making it first when there is none.
pub(crate) fn load_or_create(path: &Path) -> Result<FernetKey, String> {
    match read(path)? {
        Some(key) => Ok(key),
        None => create(path),
    }
}

fn read(path: &Path) -> Result<Option<FernetKey>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the key file {}: {e}", path.display())),
    };
    warn_if_open(path);
    FernetKey::parse(&text).map(Some).map_err(|why| {
        format!(
            "the key file {} does not hold a Fernet key ({why}); restore it from a backup (the \
             database's secrets are encrypted under it), or set fernetKey",
            path.display()
        )
    })
}

#[cfg(unix)]
fn warn_if_open(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(file = %path.display(), mode = format!("{:o}", meta.permissions().mode() & 0o777), "the key file can be read by other users; run chmod 600 on it");
    }
}

#[cfg(not(unix))]
fn warn_if_open(_: &Path) {}

fn create(path: &Path) -> Result<FernetKey, String> {
    let fail = |what: &str, e: std::io::Error| format!("cannot {what} {}: {e}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail("make the folder of", e))?;
    }
    let key = FernetKey::generate();
    // Written whole under a temporary name, then linked into place: a link never replaces an
    // existing file, so a racing process's key wins or ours does, never half of each.
    let tmp = path.with_file_name(format!(
        ".{FILE_NAME}.{}.{}",
        std::process::id(),
        idv_core::ids::random_base36(8)
    ));
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(format!("{}\n", key.to_text()).as_bytes())?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail("write the key file", e));
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Some(dir) = path.parent()
                && let Ok(d) = std::fs::File::open(dir)
            {
                let _ = d.sync_all();
            }
            tracing::warn!(
                file = %path.display(),
                "made a new key for secrets at rest; back it up with the database (without it \
                 the webhook secrets cannot be read), or set fernetKey to its contents"
            );
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path)?
            .ok_or_else(|| format!("the key file {} vanished while starting", path.display())),
        Err(e) => Err(fail("write the key file", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_private_and_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join(FILE_NAME);
        let first = load_or_create(&path).unwrap();
        let again = load_or_create(&path).unwrap();
        assert_eq!(first.to_text(), again.to_text());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // Nothing else is left in the folder.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(FILE_NAME)]);
    }

    #[test]
    fn a_damaged_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "not a key").unwrap();
        let e = load_or_create(&path).unwrap_err();
        assert!(
            e.contains("does not hold a Fernet key") && e.contains("fernetKey"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a key");
    }
}
