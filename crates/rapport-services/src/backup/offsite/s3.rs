//! An S3-compatible object store (AWS S3, MinIO, Ceph, Alibaba Cloud OSS, Tencent Cloud COS,
//! ...): each request signed with Signature Version 4 as a presigned URL (rusty-s3), sent with
//! reqwest. Files stream from and to disk.

use rapport_core::DomainError;
use rusty_s3::actions::{ListObjectsV2, S3Action};
use rusty_s3::{Bucket, Credentials, UrlStyle};
use std::path::Path;
use std::time::Duration;

/// How long a signed request stays valid (S3 checks it when the request starts).
const SIGNED_FOR: Duration = Duration::from_secs(15 * 60);

pub struct S3 {
    bucket: Bucket,
    credentials: Credentials,
    http: reqwest::Client,
}

fn fail(what: &str, e: impl std::fmt::Display) -> DomainError {
    DomainError::Upstream(format!("{what}: {e}"))
}

/// What the store answered when it refused: its status and the code in its XML error body.
async fn refused(what: &str, r: reqwest::Response) -> DomainError {
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    let code = body
        .split("<Code>")
        .nth(1)
        .and_then(|s| s.split("</Code>").next())
        .unwrap_or("");
    DomainError::Upstream(format!("{what}: the storage answered {status} {code}"))
}

impl S3 {
    pub fn new(
        endpoint: &str,
        path_style: bool,
        bucket: &str,
        region: &str,
        access_key: &str,
        secret_key: &str,
    ) -> Result<S3, DomainError> {
        let url = endpoint
            .parse()
            .map_err(|e| fail("the endpoint is not a URL", e))?;
        let style = if path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(url, style, bucket.to_string(), region.to_string())
            .map_err(|e| fail("the endpoint cannot hold a bucket", e))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| fail("cannot start an HTTP client", e))?;
        Ok(S3 {
            bucket,
            credentials: Credentials::new(access_key.to_string(), secret_key.to_string()),
            http,
        })
    }

    /// Sends a signed request; the storage's refusal becomes an error naming `what`.
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::Response, DomainError> {
        let r = req
            .send()
            .await
            .map_err(|e| fail(&format!("cannot reach the storage ({what})"), e))?;
        if r.status().is_success() {
            Ok(r)
        } else {
            Err(refused(what, r).await)
        }
    }

    /// Every object under `prefix`: its key and size.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, DomainError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = ListObjectsV2::new(&self.bucket, Some(&self.credentials));
            action.with_prefix(prefix.to_string());
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let url = action.sign(SIGNED_FOR);
            let r = self.send(self.http.get(url), "listing the backups").await?;
            let text = r.text().await.map_err(|e| fail("listing", e))?;
            let page = ListObjectsV2::parse_response(&text)
                .map_err(|e| fail("the storage's list is not S3's", e))?;
            out.extend(
                page.contents
                    .into_iter()
                    .map(|c| (c.key, c.size.unwrap_or(0))),
            );
            match page.next_continuation_token {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    /// Uploads the file at `path` as `key` (one request: files up to 5 GB).
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<u64, DomainError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| fail(&path.display().to_string(), e))?;
        let len = file
            .metadata()
            .await
            .map_err(|e| fail(&path.display().to_string(), e))?
            .len();
        let url = self
            .bucket
            .put_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        let req = self
            .http
            .put(url)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(body);
        self.send(req, &format!("uploading {key}")).await?;
        Ok(len)
    }

    pub async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), DomainError> {
        let url = self
            .bucket
            .put_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        self.send(self.http.put(url).body(bytes), &format!("uploading {key}"))
            .await?;
        Ok(())
    }

    /// Downloads `key` into a new file at `path` (written to a temporary name, then renamed).
    pub async fn get_file(&self, key: &str, path: &Path) -> Result<u64, DomainError> {
        use tokio::io::AsyncWriteExt;
        let url = self
            .bucket
            .get_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        let mut r = self
            .send(self.http.get(url), &format!("downloading {key}"))
            .await?;
        let part = super::super::with_suffix(path, ".part");
        let mut out = tokio::fs::File::create(&part)
            .await
            .map_err(|e| fail(&part.display().to_string(), e))?;
        let mut n = 0u64;
        while let Some(chunk) = r
            .chunk()
            .await
            .map_err(|e| fail(&format!("downloading {key}"), e))?
        {
            n += chunk.len() as u64;
            out.write_all(&chunk)
                .await
                .map_err(|e| fail(&part.display().to_string(), e))?;
        }
        out.sync_all()
            .await
            .map_err(|e| fail(&part.display().to_string(), e))?;
        tokio::fs::rename(&part, path)
            .await
            .map_err(|e| fail(&path.display().to_string(), e))?;
        Ok(n)
    }

    pub async fn get_bytes(&self, key: &str) -> Result<Vec<u8>, DomainError> {
        let url = self
            .bucket
            .get_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        let r = self
            .send(self.http.get(url), &format!("downloading {key}"))
            .await?;
        Ok(r.bytes()
            .await
            .map_err(|e| fail(&format!("downloading {key}"), e))?
            .to_vec())
    }

    pub async fn delete(&self, key: &str) -> Result<(), DomainError> {
        let url = self
            .bucket
            .delete_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        self.send(self.http.delete(url), &format!("deleting {key}"))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rusty_s3::actions::S3Action;
    use rusty_s3::{Bucket, Credentials, UrlStyle};

    /// The presigned GET of AWS's Signature Version 4 documentation ("Authenticating
    /// Requests: Using Query Parameters", example bucket examplebucket, object test.txt,
    /// 2013-05-24, 86400 s): the signature the documentation publishes.
    #[test]
    fn requests_are_signed_as_aws_documents() {
        let bucket = Bucket::new(
            "https://s3.amazonaws.com".parse().unwrap(),
            UrlStyle::VirtualHost,
            "examplebucket",
            "us-east-1",
        )
        .unwrap();
        let creds = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        );
        let at: jiff::Timestamp = "2013-05-24T00:00:00Z".parse().unwrap();
        let url = bucket
            .get_object(Some(&creds), "test.txt")
            .sign_with_time(std::time::Duration::from_secs(86400), &at);
        let signature = url
            .query_pairs()
            .find(|(k, _)| k == "X-Amz-Signature")
            .map(|(_, v)| v.to_string());
        assert_eq!(
            signature.as_deref(),
            Some("aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
        );
    }
}
