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

/// Creates the data dir (0700) when missing.
pub fn ensure_data_dir(dir: &Path) -> Result<(), InfraError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_err(dir, e))
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
