//! An SFTP server (OpenSSH's, a NAS's) as the off-site store: SSH by russh, SFTP by
//! russh-sftp. The server's host key is pinned (no trust on first use); the client signs in
//! with a private key. Keys are paths under the target directory (`<generation>/base.rpb`).

use rapport_core::DomainError;
use russh::client;
use russh::keys::{PrivateKeyWithHashAlg, PublicKey};
use russh_sftp::client::SftpSession;
use russh_sftp::protocol::OpenFlags;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Sftp {
    sftp: SftpSession,
    /// The target directory, without a trailing `/`.
    dir: String,
    _session: client::Handle<Pinned>,
}

fn fail(what: &str, e: impl std::fmt::Display) -> DomainError {
    DomainError::Upstream(format!("{what}: {e}"))
}

/// Accepts the server only with the pinned key; remembers what it offered.
pub struct Pinned {
    want: Option<PublicKey>,
    seen: Arc<std::sync::Mutex<Option<String>>>,
}

impl client::Handler for Pinned {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } = offered else {
            return Ok(false);
        };
        if let Ok(mut seen) = self.seen.lock() {
            *seen = key.to_openssh().ok();
        }
        Ok(self
            .want
            .as_ref()
            .is_some_and(|w| w.key_data() == key.key_data()))
    }
}

/// Checks a host key line (`ssh-ed25519 AAAA... [comment]`, as `ssh-keyscan` prints it after
/// the host name) and a private key (OpenSSH format, unencrypted).
pub fn check_keys(host_key: &str, private_key: &str) -> (Result<(), String>, Result<(), String>) {
    let line = host_key
        .split_whitespace()
        .skip_while(|p| !p.starts_with("ssh-") && !p.starts_with("ecdsa-"))
        .collect::<Vec<_>>()
        .join(" ");
    (
        PublicKey::from_openssh(&line)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        russh::keys::decode_secret_key(private_key, None)
            .map(|_| ())
            .map_err(|e| e.to_string()),
    )
}

impl Sftp {
    pub async fn connect(
        host: &str,
        port: u16,
        user: &str,
        private_key: &str,
        host_key: &str,
        dir: &str,
    ) -> Result<Sftp, DomainError> {
        let line = host_key
            .split_whitespace()
            .skip_while(|p| !p.starts_with("ssh-") && !p.starts_with("ecdsa-"))
            .collect::<Vec<_>>()
            .join(" ");
        let want = PublicKey::from_openssh(&line).ok();
        let key = russh::keys::decode_secret_key(private_key, None)
            .map_err(|e| fail("the private key cannot be read", e))?;
        let seen = Arc::new(std::sync::Mutex::new(None));
        let handler = Pinned {
            want,
            seen: seen.clone(),
        };
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(std::time::Duration::from_secs(60)),
            ..Default::default()
        });
        let connected = tokio::time::timeout(
            std::time::Duration::from_secs(15),
            client::connect(config, (host, port), handler),
        )
        .await
        .map_err(|_| fail("cannot reach the server", "no answer within 15 s"))?;
        let mut session = match connected {
            Ok(s) => s,
            Err(russh::Error::UnknownKey) => {
                let offered = seen.lock().ok().and_then(|s| s.clone()).unwrap_or_default();
                return Err(DomainError::Upstream(format!(
                    "the server's host key is not the one configured; it offered: {offered}"
                )));
            }
            Err(e) => return Err(fail("cannot reach the server", e)),
        };
        let hash = session
            .best_supported_rsa_hash()
            .await
            .map_err(|e| fail("cannot sign in", e))?
            .flatten();
        let auth = session
            .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await
            .map_err(|e| fail("cannot sign in", e))?;
        if !auth.success() {
            return Err(DomainError::Upstream(format!(
                "the server refused the key for user {user}"
            )));
        }
        let channel = session
            .channel_open_session()
            .await
            .map_err(|e| fail("cannot open a channel", e))?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(|e| fail("the server offers no SFTP", e))?;
        let sftp = SftpSession::new(channel.into_stream())
            .await
            .map_err(|e| fail("the server offers no SFTP", e))?;
        Ok(Sftp {
            sftp,
            dir: dir.trim_end_matches('/').to_string(),
            _session: session,
        })
    }

    fn path(&self, key: &str) -> String {
        format!("{}/{key}", self.dir)
    }

    /// Every file under the target directory, as `relative/path` and size (three levels:
    /// generation, file, `wal/` file).
    pub async fn list(&self) -> Result<Vec<(String, u64)>, DomainError> {
        let mut out = Vec::new();
        let mut dirs = vec![(String::new(), 0)];
        while let Some((rel, depth)) = dirs.pop() {
            let path = if rel.is_empty() {
                self.dir.clone()
            } else {
                self.path(&rel)
            };
            let entries = match self.sftp.read_dir(path.clone()).await {
                Ok(e) => e,
                Err(e) if rel.is_empty() => {
                    return Err(fail(&format!("cannot list {path}"), e));
                }
                Err(_) => continue,
            };
            for e in entries {
                let name = e.file_name();
                if name == "." || name == ".." || name.ends_with(".part") {
                    continue;
                }
                let child = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                let meta = e.metadata();
                if meta.is_dir() {
                    if depth < 2 {
                        dirs.push((child, depth + 1));
                    }
                } else {
                    out.push((child, meta.size.unwrap_or(0)));
                }
            }
        }
        Ok(out)
    }

    async fn make_parents(&self, key: &str) {
        let mut at = self.dir.clone();
        let parts: Vec<&str> = key.split('/').collect();
        for p in &parts[..parts.len().saturating_sub(1)] {
            at = format!("{at}/{p}");
            // Already there is fine; a real failure shows when the file is written.
            let _ = self.sftp.create_dir(at.clone()).await;
        }
    }

    /// Writes `key` from `data`, under a temporary name renamed into place.
    async fn write(
        &self,
        key: &str,
        data: &mut (dyn tokio::io::AsyncRead + Unpin + Send),
    ) -> Result<u64, DomainError> {
        self.make_parents(key).await;
        let path = self.path(key);
        let part = format!("{path}.part");
        let mut file = self
            .sftp
            .open_with_flags(
                part.clone(),
                OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE,
            )
            .await
            .map_err(|e| fail(&format!("cannot write {part}"), e))?;
        let n = tokio::io::copy(data, &mut file)
            .await
            .map_err(|e| fail(&format!("uploading {key}"), e))?;
        file.shutdown()
            .await
            .map_err(|e| fail(&format!("uploading {key}"), e))?;
        let _ = self.sftp.remove_file(path.clone()).await;
        self.sftp
            .rename(part, path.clone())
            .await
            .map_err(|e| fail(&format!("cannot rename into {path}"), e))?;
        Ok(n)
    }

    pub async fn put_file(&self, key: &str, local: &Path) -> Result<u64, DomainError> {
        let mut f = tokio::fs::File::open(local)
            .await
            .map_err(|e| fail(&local.display().to_string(), e))?;
        self.write(key, &mut f).await
    }

    pub async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), DomainError> {
        self.write(key, &mut bytes.as_slice()).await.map(|_| ())
    }

    pub async fn get_file(&self, key: &str, local: &Path) -> Result<u64, DomainError> {
        let mut remote = self
            .sftp
            .open(self.path(key))
            .await
            .map_err(|e| fail(&format!("downloading {key}"), e))?;
        let part = super::super::with_suffix(local, ".part");
        let mut out = tokio::fs::File::create(&part)
            .await
            .map_err(|e| fail(&part.display().to_string(), e))?;
        let n = tokio::io::copy(&mut remote, &mut out)
            .await
            .map_err(|e| fail(&format!("downloading {key}"), e))?;
        out.sync_all()
            .await
            .map_err(|e| fail(&part.display().to_string(), e))?;
        tokio::fs::rename(&part, local)
            .await
            .map_err(|e| fail(&local.display().to_string(), e))?;
        Ok(n)
    }

    pub async fn get_bytes(&self, key: &str) -> Result<Vec<u8>, DomainError> {
        let mut remote = self
            .sftp
            .open(self.path(key))
            .await
            .map_err(|e| fail(&format!("downloading {key}"), e))?;
        let mut out = Vec::new();
        remote
            .read_to_end(&mut out)
            .await
            .map_err(|e| fail(&format!("downloading {key}"), e))?;
        Ok(out)
    }

    /// Deletes `key`, and its directories once empty (a pruned generation leaves nothing).
    pub async fn delete(&self, key: &str) -> Result<(), DomainError> {
        self.sftp
            .remove_file(self.path(key))
            .await
            .map_err(|e| fail(&format!("deleting {key}"), e))?;
        let mut parts: Vec<&str> = key.split('/').collect();
        parts.pop();
        while !parts.is_empty() {
            if self
                .sftp
                .remove_dir(self.path(&parts.join("/")))
                .await
                .is_err()
            {
                break; // not empty yet
            }
            parts.pop();
        }
        Ok(())
    }
}
