//! Starting the server: open the store, migrate, listen (HTTP or HTTPS with rustls),
//! reload keys when the key file changes, shut down gracefully.

use crate::config::Config;
use crate::keys;
use anyhow::{anyhow, Context, Result};
use rapport_auth::AuthSettings;
use rapport_core::{Clock, SystemClock};
use rapport_services::{Db, Store, StoreSettings};
use rapport_web::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub const KEY_RELOAD_SECS: u64 = 5;

/// How long the background tasks have to finish after the last request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Connect, load keys (creating them on a fresh install) and apply migrations.
pub async fn open_store(cfg: &Config) -> Result<Store> {
    cfg.ensure_dirs()?;
    let mut db = Db::connect(&cfg.database_url)
        .await
        .map_err(|e| anyhow!("cannot open the database: {e}"))?;
    if let Some(url) = &cfg.database_read_url {
        let lag = Duration::from_millis(cfg.database_read_max_lag_ms as u64);
        db = db
            .with_replica(url, lag)
            .await
            .map_err(|e| anyhow!("cannot use the read replica: {e}"))?;
    }
    let ring = keys::load(cfg, &db).await?;
    let clock = Arc::new(SystemClock);
    rapport_services::seeds::migrate(&db, clock.now())
        .await
        .map_err(|e| anyhow!("migrations failed: {e}"))?;
    Ok(Store::new(
        db,
        ring,
        clock,
        StoreSettings {
            phone_region: cfg.phone_region.clone(),
            public_url: cfg.public_url.clone(),
            audit_anchor_dir: Some(cfg.audit_anchor_dir.clone()),
            backup: Some(cfg.backup_settings()),
        },
    ))
}

fn key_file_mtime(cfg: &Config) -> Option<std::time::SystemTime> {
    std::fs::metadata(&cfg.key_file)
        .and_then(|m| m.modified())
        .ok()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}

pub async fn run(cfg: Config) -> Result<()> {
    crate::backups::prepare(&cfg)?;
    let store = open_store(&cfg).await?;
    // Reads audited before the last stop and not yet in the trail (ADR 0017) go in now; this
    // also starts the audit writer and the journal's mover.
    rapport_services::audit::flush(&store)
        .await
        .map_err(|e| anyhow!("cannot move the audit read journal into the trail: {e}"))?;
    // Rows of uploaded files stored before they were sealed are sealed now.
    let sealed = rapport_services::imports::raw::seal_plain_rows(&store)
        .await
        .map_err(|e| anyhow!("cannot seal the stored rows of uploaded files: {e}"))?;
    if sealed > 0 {
        tracing::info!(rows = sealed, "sealed the stored rows of uploaded files");
    }
    // Records stored before quick search had its name index get their terms now (ADR 0041).
    let indexed = rapport_services::records::name_index::ensure(&store)
        .await
        .map_err(|e| anyhow!("cannot build the name index of the stored records: {e}"))?;
    if indexed > 0 {
        tracing::info!(
            records = indexed,
            "built the name index of the stored records"
        );
    }
    let tls = cfg.tls_cert.is_some();
    let state = AppState {
        store: store.clone(),
        auth: AuthSettings {
            idle_timeout: chrono::Duration::minutes(cfg.session_idle_minutes),
            absolute_timeout: chrono::Duration::hours(cfg.session_absolute_hours),
        },
        tls,
        max_body: cfg.max_body_bytes,
        metrics: rapport_web::metrics::configured(cfg.metrics.clone()),
    };
    let app = rapport_web::app(state).into_make_service_with_connect_info::<SocketAddr>();

    // Every background task is started here, through the store's list, and stopped after
    // the last request: the WAL checkpointer and the search tokens' merger (SQLite), the job
    // worker, the key file watcher; the group-commit and audit writers join it when first
    // used.
    let jobs = if cfg.jobs_enabled {
        let released = rapport_services::worker::release_orphans(&store)
            .await
            .map_err(|e| anyhow!("cannot release interrupted jobs: {e}"))?;
        if released > 0 {
            tracing::info!(released, "jobs interrupted by the last stop will run again");
        }
        Some(rapport_services::worker::Settings {
            poll: Duration::from_millis(cfg.job_poll_ms as u64),
            lease: chrono::Duration::seconds(cfg.job_lease_secs),
            ..Default::default()
        })
    } else {
        None
    };
    rapport_services::worker::start_server_tasks(&store, jobs);
    crate::backups::start_continuous(&cfg, &store)?;
    crate::backups::schedule(&cfg, &store).await?;
    rapport_services::audit::anchor::spawn(
        &store,
        rapport_services::audit::anchor::Settings {
            dir: cfg.audit_anchor_dir.clone(),
            every: Duration::from_secs(cfg.audit_anchor_secs as u64),
            then: Some(rapport_services::mail::anchors::after_anchor()),
        },
    );
    if cfg.master_key.is_none() {
        let cfg2 = cfg.clone();
        let store2 = store.clone();
        store
            .background()
            .spawn("key file watcher", move |stop| async move {
                let mut last = key_file_mtime(&cfg2);
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(KEY_RELOAD_SECS)) => {}
                        _ = stop.requested() => return,
                    }
                    let now = key_file_mtime(&cfg2);
                    if now != last {
                        last = now;
                        match rapport_services::crypto::KeyFile::load(&cfg2.key_file)
                            .and_then(|f| f.keyring())
                        {
                            Ok(ring) => {
                                if store2.set_keys(ring).is_ok() {
                                    tracing::info!("reloaded encryption keys");
                                }
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "key file changed but could not be loaded")
                            }
                        }
                    }
                }
            });
    }

    let addr: SocketAddr = cfg.listen.parse().with_context(|| {
        format!(
            "RAPPORT_LISTEN {:?} is not an address such as 127.0.0.1:8080",
            cfg.listen
        )
    })?;
    let handle = axum_server::Handle::new();
    let h2 = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        h2.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    if let (Some(cert), Some(key)) = (&cfg.tls_cert, &cfg.tls_key) {
        let tls_cfg = tls_config(cert, key)?;
        let rustls_config = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls_cfg));
        let server = axum_server::bind_rustls(addr, rustls_config).handle(handle.clone());
        announce(&handle, "https").await;
        server.serve(app).await.context("server failed")?;
    } else {
        let server = axum_server::bind(addr).handle(handle.clone());
        announce(&handle, "http").await;
        server.serve(app).await.context("server failed")?;
    }
    // The last request is answered: the background tasks finish what they hold (queued
    // creates and audit entries are written, a last checkpoint) and stop.
    store.background().stop(SHUTDOWN_GRACE).await;
    store.db.close().await;
    Ok(())
}

async fn announce(handle: &axum_server::Handle, scheme: &'static str) {
    let handle = handle.clone();
    tokio::spawn(async move {
        if let Some(addr) = handle.listening().await {
            tracing::info!("Rapport listening on {scheme}://{addr}");
            println!("listening on {scheme}://{addr}");
        }
    });
}

/// The TLS settings of the server: TLS 1.3 and 1.2 with the certificate chain and key.
pub fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> Result<rustls::ServerConfig> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut tls_cfg = rustls::ServerConfig::builder_with_protocol_versions(&[
        &rustls::version::TLS13,
        &rustls::version::TLS12,
    ])
    .with_no_client_auth()
    .with_single_cert(load_certs(cert)?, load_key(key)?)
    .context("TLS certificate and key do not match")?;
    tls_cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls_cfg)
}

fn load_certs(path: &std::path::Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read TLS certificate {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("TLS certificate {} is not valid PEM", path.display()))
}

fn load_key(path: &std::path::Path) -> Result<rustls::pki_types::PrivateKeyDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::PrivateKeyDer::from_pem_file(path)
        .with_context(|| format!("cannot read TLS key {}", path.display()))
}
