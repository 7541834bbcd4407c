//! Secrets generated at first start and kept in the data dir, readable by
//! the server's user only.

use super::InfraError;
use rand::RngCore;
use std::{
    fs,
    io::Write,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::Path,
};

const JWT_SECRET_FILE: &str = "jwt_secret";

fn io_err(path: &Path, source: std::io::Error) -> InfraError {
    InfraError::DataDir {
        path: path.display().to_string(),
        source,
    }
}

/// Files of the data dir only the server may read: signing and sealing
/// keys, and the SQLite database (password and token hashes).
fn is_secret_file(name: &str) -> bool {
    matches!(name, JWT_SECRET_FILE | TOTP_KEY_FILE)
        || name.ends_with(".key")
        || name.ends_with(".pem")
        || name.starts_with("optralis.db")
}

/// Creates the data dir (0700) when missing; otherwise tightens it to 0700
/// and its secret files to 0600, since a restored backup or a hand-made
/// directory easily comes with 0755 and 0644.
pub fn ensure_data_dir(dir: &Path) -> Result<(), InfraError> {
    if !dir.is_dir() {
        return fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io_err(dir, e));
    }
    match restrict(dir, 0o700) {
        Ok(()) => {}
        // A directory the operator gave us without ownership (a volume
        // shared through a group, a read-only mount point) stays as it is;
        // the files below are ours and are still tightened.
        Err(InfraError::DataDir { source, .. })
            if matches!(
                source.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            tracing::warn!(path = %dir.display(), error = %source, "cannot restrict the data dir to its owner (0700)");
        }
        Err(e) => return Err(e),
    }
    for entry in fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        // Symlinks are left alone: chmod would follow them out of the dir.
        let is_file = entry.file_type().map_err(|e| io_err(&entry.path(), e))?.is_file();
        if is_file && entry.file_name().to_str().is_some_and(is_secret_file) {
            restrict(&entry.path(), 0o600)?;
        }
    }
    Ok(())
}

/// Removes every permission bit beyond `mode` (never adds one).
fn restrict(path: &Path, mode: u32) -> Result<(), InfraError> {
    let current = fs::symlink_metadata(path)
        .map_err(|e| io_err(path, e))?
        .permissions()
        .mode()
        & 0o7777;
    if current & !mode == 0 {
        return Ok(());
    }
    fs::set_permissions(path, fs::Permissions::from_mode(current & mode)).map_err(|e| io_err(path, e))?;
    tracing::warn!(
        path = %path.display(),
        from = format!("{current:o}"),
        to = format!("{:o}", current & mode),
        "tightened permissions in the data dir"
    );
    Ok(())
}

/// Returns the configured secret, or the one kept in `<data_dir>/jwt_secret`,
/// creating it (64 random bytes, hex) with mode 0600 on first start.
pub fn jwt_secret(data_dir: &Path, configured: Option<&str>) -> Result<String, InfraError> {
    if let Some(secret) = configured {
        return Ok(secret.to_owned());
    }
    let path = data_dir.join(JWT_SECRET_FILE);
    match fs::read_to_string(&path) {
        Ok(existing) if existing.trim().len() >= crate::config::MIN_JWT_SECRET_LEN => {
            // Tighten permissions a copied file may have lost.
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(|e| io_err(&path, e))?;
            return Ok(existing.trim().to_owned());
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&path, e)),
    }
    let mut bytes = [0u8; 64];
    rand::rng().fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, secret.as_bytes())?;
    tracing::info!(path = %path.display(), "generated a new JWT secret");
    Ok(secret)
}

/// Writes a file only the owner can read, replacing any previous content.
pub fn write_private(path: &Path, content: &[u8]) -> Result<(), InfraError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    file.write_all(content).map_err(|e| io_err(path, e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|e| io_err(path, e))
}

const TOTP_KEY_FILE: &str = "totp_key";

/// The key that seals TOTP secrets at rest, kept in `<data_dir>/totp_key`
/// (32 random bytes, hex, mode 0600) and created on first start. Instances
/// that share a database share this file, as they share the CA.
pub fn totp_key(data_dir: &Path) -> Result<[u8; 32], InfraError> {
    let path = data_dir.join(TOTP_KEY_FILE);
    match fs::read_to_string(&path) {
        Ok(existing) => {
            let mut key = [0u8; 32];
            hex::decode_to_slice(existing.trim(), &mut key).map_err(|e| {
                io_err(
                    &path,
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("not a 32-byte hex key: {e}"),
                    ),
                )
            })?;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(|e| io_err(&path, e))?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            write_private(&path, hex::encode(key).as_bytes())?;
            tracing::info!(path = %path.display(), "generated the TOTP sealing key");
            Ok(key)
        }
        Err(e) => Err(io_err(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_existing_data_dir_and_its_secrets_are_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let outside = root.path().join("outside.key");
        fs::write(&outside, "x").unwrap();
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("linked.key")).unwrap();
        for (name, before, after) in [
            (JWT_SECRET_FILE, 0o644, 0o600),
            (TOTP_KEY_FILE, 0o666, 0o600),
            ("ca.key", 0o640, 0o600),
            ("backup.key", 0o604, 0o600),
            ("optralis.db", 0o644, 0o600),
            ("optralis.db-wal", 0o644, 0o600),
            ("ca.crt", 0o644, 0o644),
            ("already.key", 0o400, 0o400),
        ] {
            let path = dir.join(name);
            fs::write(&path, "x").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(before)).unwrap();
            ensure_data_dir(&dir).unwrap();
            assert_eq!(mode(&path), after, "{name}");
        }
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&outside), 0o644, "a symlink's target is not ours to change");

        let fresh = root.path().join("a/b");
        ensure_data_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
    }

    #[test]
    fn generated_once_then_reused_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let first = jwt_secret(dir.path(), None).unwrap();
        assert_eq!(first.len(), 128);
        let mode = fs::metadata(dir.path().join(JWT_SECRET_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(jwt_secret(dir.path(), None).unwrap(), first);
        assert_eq!(jwt_secret(dir.path(), Some("configured")).unwrap(), "configured");
    }
}
