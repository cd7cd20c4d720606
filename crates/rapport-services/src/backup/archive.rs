//! The file format of every backup file: zstd-compressed, then encrypted with the backup key
//! in chunks (AES-256-GCM in the STREAM construction, which authenticates each chunk's place
//! and the end of the file, so a flipped byte, a chunk cut out, swapped or a file cut short
//! all fail to open).
//!
//! Layout: `RPBACKUP`, a version byte, the kind's length and the kind (`base`, `journal`,
//! `wal`, `pgdump`: a file cannot be opened as another kind), the backup key's fingerprint
//! (8 bytes), a 7-byte random nonce prefix; then chunks, each a flag byte (1 on the last),
//! the ciphertext's length (u32, big-endian) and the ciphertext. The header is every chunk's
//! associated data.

use aead::stream::{DecryptorBE32, EncryptorBE32};
use aead::Payload;
use aes_gcm::{Aes256Gcm, KeyInit};
use rand::RngCore;
use rapport_core::DomainError;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"RPBACKUP";
const VERSION: u8 = 1;
/// Plaintext bytes per encrypted chunk.
const CHUNK: usize = 1 << 20;
/// zstd level: fast, and most of a CRM database compresses well at it.
const LEVEL: i32 = 3;

/// The key backups are encrypted with: not a field-encryption key (ADR 0037).
#[derive(Clone)]
pub struct BackupKey([u8; 32]);

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackupKey({})", self.fingerprint())
    }
}

impl BackupKey {
    pub fn new(raw: [u8; 32]) -> BackupKey {
        BackupKey(raw)
    }

    /// The backup key of a key ring, if its key file has one.
    pub fn of(ring: &crate::crypto::Keyring) -> Option<BackupKey> {
        ring.backup_key_bytes().map(BackupKey)
    }

    fn id_bytes(&self) -> [u8; 8] {
        let mut out = [0u8; 8];
        out.copy_from_slice(&self.mac(&[b"rapport backup key id"])[..8]);
        out
    }

    /// Names the key without revealing it (in manifests and error messages).
    pub fn fingerprint(&self) -> String {
        hex::encode(self.id_bytes())
    }

    /// HMAC-SHA256 with the key over length-prefixed parts.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        crate::crypto::hmac(&self.0, parts)
    }

    fn cipher(&self) -> Result<Aes256Gcm, DomainError> {
        Aes256Gcm::new_from_slice(&self.0).map_err(DomainError::internal)
    }
}

/// A sealed file as written: its size and the SHA-256 of its bytes (checked before any
/// decryption, and without the key).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sealed {
    pub bytes: u64,
    pub sha256: String,
}

fn corrupt(what: &str) -> DomainError {
    DomainError::Internal(format!("backup file damaged: {what}"))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DomainError + '_ {
    move |e| DomainError::Internal(format!("{}: {e}", path.display()))
}

/// Counts and hashes what passes through to the file.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

struct Encrypting<W: Write> {
    out: Hashing<W>,
    header: Vec<u8>,
    stream: Option<EncryptorBE32<Aes256Gcm>>,
    buf: Vec<u8>,
}

fn to_io(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl<W: Write> Encrypting<W> {
    fn chunk(&mut self, last: bool) -> std::io::Result<()> {
        let payload = Payload {
            msg: &self.buf,
            aad: &self.header,
        };
        let sealed = if last {
            let stream = self.stream.take().ok_or_else(|| to_io("sealed twice"))?;
            stream.encrypt_last(payload).map_err(to_io)?
        } else {
            let stream = self.stream.as_mut().ok_or_else(|| to_io("sealed twice"))?;
            stream.encrypt_next(payload).map_err(to_io)?
        };
        self.out.write_all(&[u8::from(last)])?;
        self.out.write_all(&(sealed.len() as u32).to_be_bytes())?;
        self.out.write_all(&sealed)?;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<Hashing<W>> {
        self.chunk(true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for Encrypting<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.chunk(false)?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn header(key: &BackupKey, kind: &str, nonce: &[u8; 7]) -> Vec<u8> {
    let mut h = Vec::with_capacity(32);
    h.extend_from_slice(MAGIC);
    h.push(VERSION);
    h.push(kind.len() as u8);
    h.extend_from_slice(kind.as_bytes());
    h.extend_from_slice(&key.id_bytes());
    h.extend_from_slice(nonce);
    h
}

/// Compresses and encrypts everything `src` yields into the new file `dest` (written to a
/// temporary name, synced, then renamed: a file at `dest` is always whole).
pub fn seal(
    key: &BackupKey,
    kind: &str,
    src: &mut dyn Read,
    dest: &Path,
) -> Result<Sealed, DomainError> {
    let tmp = dest.with_extension("part");
    let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let mut nonce = [0u8; 7];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let header = header(key, kind, &nonce);
    let mut out = Hashing {
        inner: std::io::BufWriter::with_capacity(1 << 20, file),
        hash: Sha256::new(),
        bytes: 0,
    };
    out.write_all(&header).map_err(io(&tmp))?;
    let enc = Encrypting {
        out,
        header,
        stream: Some(EncryptorBE32::from_aead(key.cipher()?, (&nonce).into())),
        buf: Vec::with_capacity(CHUNK),
    };
    let mut z = zstd::stream::write::Encoder::new(enc, LEVEL).map_err(io(&tmp))?;
    std::io::copy(src, &mut z).map_err(io(&tmp))?;
    let enc = z.finish().map_err(io(&tmp))?;
    let out = enc.finish().map_err(io(&tmp))?;
    let sealed = Sealed {
        bytes: out.bytes,
        sha256: hex::encode(out.hash.finalize()),
    };
    let file = out
        .inner
        .into_inner()
        .map_err(|e| io(&tmp)(e.into_error()))?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, dest).map_err(io(dest))?;
    sync_dir(dest);
    Ok(sealed)
}

/// Syncs the directory holding `path`, so that a rename in it survives a crash.
pub fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// Compresses and encrypts `data` into `dest`.
pub fn seal_bytes(
    key: &BackupKey,
    kind: &str,
    data: &[u8],
    dest: &Path,
) -> Result<Sealed, DomainError> {
    seal(key, kind, &mut std::io::Cursor::new(data), dest)
}

/// Checks the file at `path` against what sealing it recorded, without the key.
pub fn check(path: &Path, expected: &Sealed) -> Result<(), DomainError> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut hash = Sha256::new();
    let bytes = std::io::copy(&mut f, &mut hash).map_err(io(path))?;
    if bytes != expected.bytes {
        return Err(corrupt(&format!(
            "{} has {bytes} bytes, {} were written",
            path.display(),
            expected.bytes
        )));
    }
    if hex::encode(hash.finalize()) != expected.sha256 {
        return Err(corrupt(&format!(
            "{} does not match its checksum",
            path.display()
        )));
    }
    Ok(())
}

struct Decrypting<R: Read> {
    src: R,
    header: Vec<u8>,
    stream: Option<DecryptorBE32<Aes256Gcm>>,
    plain: Vec<u8>,
    at: usize,
    ended: bool,
    name: String,
}

impl<R: Read> Decrypting<R> {
    fn next_chunk(&mut self) -> std::io::Result<()> {
        let mut head = [0u8; 5];
        self.src
            .read_exact(&mut head)
            .map_err(|_| to_io(corrupt(&format!("{} is cut short", self.name))))?;
        let last = match head[0] {
            0 => false,
            1 => true,
            _ => return Err(to_io(corrupt(&format!("{}: bad chunk", self.name)))),
        };
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > CHUNK + 16 {
            return Err(to_io(corrupt(&format!("{}: bad chunk length", self.name))));
        }
        let mut sealed = vec![0u8; len];
        self.src
            .read_exact(&mut sealed)
            .map_err(|_| to_io(corrupt(&format!("{} is cut short", self.name))))?;
        let payload = Payload {
            msg: &sealed,
            aad: &self.header,
        };
        let failed = || to_io(corrupt(&format!("{} does not decrypt", self.name)));
        self.plain = if last {
            let stream = self.stream.take().ok_or_else(failed)?;
            let p = stream.decrypt_last(payload).map_err(|_| failed())?;
            let mut rest = [0u8; 1];
            if self.src.read(&mut rest)? != 0 {
                return Err(to_io(corrupt(&format!(
                    "{} has bytes after its end",
                    self.name
                ))));
            }
            self.ended = true;
            p
        } else {
            let stream = self.stream.as_mut().ok_or_else(failed)?;
            stream.decrypt_next(payload).map_err(|_| failed())?
        };
        self.at = 0;
        Ok(())
    }
}

impl<R: Read> Read for Decrypting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.plain.len() {
            if self.ended {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = buf.len().min(self.plain.len() - self.at);
        buf[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Decrypts and decompresses the file at `path` into `out`. Any damage, the wrong key or
/// the wrong kind of file is an error naming the file; `out` may then hold a part.
pub fn open(
    key: &BackupKey,
    kind: &str,
    path: &Path,
    out: &mut dyn Write,
) -> Result<u64, DomainError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(io(path))?;
    let mut src = std::io::BufReader::with_capacity(1 << 20, file);
    let fixed = MAGIC.len() + 2;
    let mut start = vec![0u8; fixed];
    src.read_exact(&mut start)
        .map_err(|_| corrupt(&format!("{name} is not a Rapport backup file")))?;
    if &start[..8] != MAGIC || start[8] != VERSION {
        return Err(corrupt(&format!("{name} is not a Rapport backup file")));
    }
    let mut rest = vec![0u8; start[9] as usize + 8 + 7];
    src.read_exact(&mut rest)
        .map_err(|_| corrupt(&format!("{name} is cut short")))?;
    let kind_len = start[9] as usize;
    if &rest[..kind_len] != kind.as_bytes() {
        return Err(corrupt(&format!(
            "{name} is a {} file, not {kind}",
            String::from_utf8_lossy(&rest[..kind_len])
        )));
    }
    if rest[kind_len..kind_len + 8] != key.id_bytes() {
        return Err(DomainError::Internal(format!(
            "{name} was encrypted with backup key {}, not this key file's ({})",
            hex::encode(&rest[kind_len..kind_len + 8]),
            key.fingerprint()
        )));
    }
    let mut nonce = [0u8; 7];
    nonce.copy_from_slice(&rest[kind_len + 8..]);
    let mut header = start;
    header.extend_from_slice(&rest);
    let dec = Decrypting {
        src,
        header,
        stream: Some(DecryptorBE32::from_aead(key.cipher()?, (&nonce).into())),
        plain: Vec::new(),
        at: 0,
        ended: false,
        name: name.clone(),
    };
    let mut z = zstd::stream::read::Decoder::new(dec).map_err(io(path))?;
    std::io::copy(&mut z, out).map_err(|e| {
        if e.to_string().starts_with("backup file damaged") {
            DomainError::Internal(e.to_string())
        } else {
            corrupt(&format!("{name}: {e}"))
        }
    })
}

/// [`open`] into memory.
pub fn open_bytes(key: &BackupKey, kind: &str, path: &Path) -> Result<Vec<u8>, DomainError> {
    let mut out = Vec::new();
    open(key, kind, path, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> BackupKey {
        BackupKey::new([b; 32])
    }

    #[test]
    fn sealed_files_open_only_whole_with_their_key_and_kind() {
        let dir = std::env::temp_dir().join(format!("rpb-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.rpb");
        // Three chunks and a bit, compressible and not.
        let mut data = Vec::new();
        let mut n: u64 = 7;
        for i in 0..(3 * CHUNK + 1000) {
            n = n.wrapping_mul(6364136223846793005).wrapping_add(1);
            data.push(if i % 3 == 0 { (n >> 33) as u8 } else { b'a' });
        }
        let sealed = seal_bytes(&key(1), "base", &data, &path).unwrap();
        check(&path, &sealed).unwrap();
        assert_eq!(open_bytes(&key(1), "base", &path).unwrap(), data);

        let wrong_key = open_bytes(&key(2), "base", &path).unwrap_err();
        assert!(wrong_key.to_string().contains("backup key"), "{wrong_key}");
        let wrong_kind = open_bytes(&key(1), "wal", &path).unwrap_err();
        assert!(wrong_kind.to_string().contains("not wal"), "{wrong_kind}");

        let good = std::fs::read(&path).unwrap();
        for at in [40, good.len() / 2, good.len() - 3] {
            let mut bad = good.clone();
            bad[at] ^= 0x10;
            std::fs::write(&path, &bad).unwrap();
            assert!(check(&path, &sealed).is_err());
            let e = open_bytes(&key(1), "base", &path).unwrap_err();
            assert!(e.to_string().contains("damaged"), "byte {at}: {e}");
        }
        // Cut short at a chunk boundary: the end is authenticated too.
        std::fs::write(&path, &good[..good.len() / 2]).unwrap();
        assert!(open_bytes(&key(1), "base", &path).is_err());
        // Nothing empty is special.
        let empty = seal_bytes(&key(1), "wal", b"", &path).unwrap();
        assert!(empty.bytes > 0);
        assert!(open_bytes(&key(1), "wal", &path).unwrap().is_empty());
    }
}
