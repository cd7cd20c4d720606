//! PostgreSQL connections: one pool on the primary, which may be one of several hosts named in
//! a libpq-style URL (`postgres://user@db1:5432,db2:5432/rapport`) and is followed when it
//! moves (a standby promoted after the primary failed); and an optional read replica, which
//! bulk reads use once it has replayed every write committed before they start (ADR 0039).

use crate::error::db_err;
use rapport_core::DomainError;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sea_orm::sqlx::{ConnectOptions as _, Connection as _, Executor as _, Row as _};
use sea_orm::{DatabaseConnection, SqlxPostgresConnector};
use std::sync::Arc;
use std::time::Duration;

/// One host of the URL: how it is named in logs and errors, and how to connect to it.
#[derive(Debug, Clone)]
pub(crate) struct Host {
    pub(crate) label: String,
    options: PgConnectOptions,
}

/// How often the primary is looked for again when the pool's host stops taking writes.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// How long one host gets to answer whether it takes writes.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A PostgreSQL URL in libpq's syntax, which may list several hosts
/// (`postgres://user:pw@db1:5432,db2:5432/crm`) where the url crate and sqlx read only one.
#[derive(Debug, Clone)]
pub struct PgUrl {
    /// `postgres://` or `postgresql://`.
    scheme: String,
    user: String,
    /// As written in the URL (percent-encoded).
    password: Option<String>,
    /// `host[:port]` entries separated by commas.
    hosts: String,
    /// From the `/` on, query included.
    rest: String,
}

impl PgUrl {
    pub fn parse(url: &str) -> Result<PgUrl, DomainError> {
        let (scheme, tail) = url.split_once("://").ok_or_else(|| {
            DomainError::Internal(
                "invalid PostgreSQL URL: it does not start with postgres://".into(),
            )
        })?;
        let cut = tail.find(['/', '?']).unwrap_or(tail.len());
        let (authority, rest) = tail.split_at(cut);
        let (userinfo, hosts) = authority.rsplit_once('@').unwrap_or(("", authority));
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (u.to_string(), Some(p.to_string())),
            None => (userinfo.to_string(), None),
        };
        Ok(PgUrl {
            scheme: format!("{scheme}://"),
            user,
            password,
            hosts: hosts.to_string(),
            rest: rest.to_string(),
        })
    }

    /// The password as written in the URL (percent-encoded).
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// `user[:password]@`, or nothing.
    fn userinfo(&self) -> String {
        let password = self
            .password
            .as_ref()
            .map_or(String::new(), |p| format!(":{p}"));
        if self.user.is_empty() && password.is_empty() {
            String::new()
        } else {
            format!("{}{password}@", self.user)
        }
    }

    /// The URL back, without its password. With several hosts, libpq is told to pick the one
    /// that takes writes (Rapport's own connections do the same).
    pub fn without_password(&self) -> String {
        let at = if self.user.is_empty() { "" } else { "@" };
        let mut url = format!(
            "{}{}{at}{}{}",
            self.scheme, self.user, self.hosts, self.rest
        );
        if self.hosts.contains(',') && !self.rest.contains("target_session_attrs=") {
            url.push(if self.rest.contains('?') { '&' } else { '?' });
            url.push_str("target_session_attrs=read-write");
        }
        url
    }

    /// The same URL on another database.
    pub fn on_database(&self, name: &str) -> String {
        let query = self.rest.find('?').map_or("", |i| &self.rest[i..]);
        format!(
            "{}{}{}/{name}{query}",
            self.scheme,
            self.userinfo(),
            self.hosts
        )
    }
}

/// The hosts of a PostgreSQL URL, in order, each with the URL's user, password, database and
/// parameters. `target_session_attrs` is accepted and dropped: Rapport always wants the host
/// that takes writes.
pub(crate) fn hosts(url: &str) -> Result<Vec<Host>, DomainError> {
    let bad = |why: &str| DomainError::Internal(format!("invalid PostgreSQL URL: {why}"));
    let u = PgUrl::parse(url)?;
    let (userinfo, tail) = (u.userinfo(), without_session_attrs(&u.rest));
    let mut out = Vec::new();
    for host in u.hosts.split(',') {
        if host.is_empty() {
            return Err(bad("an empty host in the host list"));
        }
        let one = format!("{}{userinfo}{host}{tail}", u.scheme);
        let options: PgConnectOptions =
            one.parse().map_err(|e| bad(&format!("host {host}: {e}")))?;
        out.push(Host {
            label: host.to_string(),
            options: options.disable_statement_logging(),
        });
    }
    Ok(out)
}

/// `tail` (path and query) without the `target_session_attrs` parameter.
fn without_session_attrs(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.starts_with("target_session_attrs="))
        .collect();
    if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// Whether the server at the other end takes writes (is not a standby in recovery).
async fn takes_writes(c: &mut PgConnection) -> Result<bool, sea_orm::sqlx::Error> {
    let row = c.fetch_one("SELECT pg_is_in_recovery()").await?;
    Ok(!row.try_get::<bool, _>(0)?)
}

/// Which of `hosts` takes writes now, tried in order; with why each other one was passed over.
async fn find_primary(hosts: &[Host]) -> Result<usize, String> {
    let mut why = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        let probe = async {
            let mut c = h.options.connect().await?;
            let writes = takes_writes(&mut c).await;
            let _ = c.close().await;
            writes
        };
        match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
            Ok(Ok(true)) => return Ok(i),
            Ok(Ok(false)) => why.push(format!("{}: a standby (in recovery)", h.label)),
            Ok(Err(e)) => why.push(format!("{}: {e}", h.label)),
            Err(_) => why.push(format!("{}: no answer in {PROBE_TIMEOUT:?}", h.label)),
        }
    }
    Err(why.join("; "))
}

/// The pool on the primary. With several hosts, each new connection is checked to be on a
/// server that takes writes (a standby's is refused and retried), and a task follows the
/// primary from host to host for as long as the pool is open.
pub(crate) async fn primary_pool(url: &str) -> Result<DatabaseConnection, DomainError> {
    let hosts = hosts(url)?;
    let options = || {
        PgPoolOptions::new()
            .max_connections(20)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
    };
    if hosts.len() == 1 {
        let pool = options()
            .connect_with(hosts[0].options.clone())
            .await
            .map_err(|e| db_err(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e))))?;
        return Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool));
    }
    let first = find_primary(&hosts).await.map_err(|why| {
        DomainError::Storage(rapport_core::StorageError::Unavailable(format!(
            "no host of the database URL takes writes ({why})"
        )))
    })?;
    let pool = options()
        .after_connect(|c, _| {
            Box::pin(async move {
                if takes_writes(c).await? {
                    Ok(())
                } else {
                    Err(sea_orm::sqlx::Error::Protocol(
                        "this host is a standby; waiting for the primary".into(),
                    ))
                }
            })
        })
        .connect_with(hosts[first].options.clone())
        .await
        .map_err(|e| db_err(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e))))?;
    tracing::info!(host = %hosts[first].label, "database primary");
    tokio::spawn(follow_primary(pool.clone(), Arc::new(hosts), first));
    Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
}

/// While `pool` is open: every [`WATCH_EVERY`], check that its host still takes writes; when
/// it does not (gone, or a standby now), find the host that does and send new connections
/// there. Connections to the old host fail their check before use and are dropped.
async fn follow_primary(pool: PgPool, hosts: Arc<Vec<Host>>, mut current: usize) {
    while !pool.is_closed() {
        tokio::time::sleep(WATCH_EVERY).await;
        let healthy = tokio::time::timeout(PROBE_TIMEOUT, async {
            let mut c = pool.acquire().await?;
            takes_writes(&mut c).await
        })
        .await;
        if matches!(healthy, Ok(Ok(true))) {
            continue;
        }
        match find_primary(&hosts).await {
            Ok(i) if i != current => {
                tracing::warn!(
                    from = %hosts[current].label,
                    to = %hosts[i].label,
                    "the database primary moved; new connections go to the new one"
                );
                pool.set_connect_options(hosts[i].options.clone());
                current = i;
            }
            Ok(_) => {}
            Err(why) => tracing::warn!(%why, "no database host takes writes"),
        }
    }
}

/// A read replica (a streaming standby) and the primary it follows.
#[derive(Debug, Clone)]
pub(crate) struct Replica {
    pub(crate) conn: DatabaseConnection,
    /// Longest a reader waits for the replica to replay what the primary had committed when
    /// it asked; past it, the reader uses the primary.
    pub(crate) max_lag: Duration,
}

/// Where a bulk read ran, for metrics.
#[derive(Debug, Default)]
pub struct ReplicaReads {
    pub on_replica: std::sync::atomic::AtomicU64,
    pub on_primary: std::sync::atomic::AtomicU64,
}

impl Replica {
    pub(crate) async fn connect(url: &str, max_lag: Duration) -> Result<Replica, DomainError> {
        let hosts = hosts(url)?;
        let [host] = hosts.as_slice() else {
            return Err(DomainError::Internal(
                "the read replica URL names one host".into(),
            ));
        };
        // Lazy: a replica down at start is skipped by readers until it is back, not a reason
        // for the server not to start.
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(host.options.clone());
        Ok(Replica {
            conn: SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
            max_lag,
        })
    }

    /// Whether the replica has replayed `target` (a primary's WAL position) within
    /// `max_lag`, asking every 20 ms. Any error (replica down, not a standby) is a no.
    pub(crate) async fn caught_up(&self, target: u64) -> bool {
        let pool = self.conn.get_postgres_connection_pool();
        let deadline = tokio::time::Instant::now() + self.max_lag;
        loop {
            let replayed = tokio::time::timeout_at(deadline, async {
                let row = pool
                    .fetch_one("SELECT pg_last_wal_replay_lsn()::text")
                    .await?;
                row.try_get::<Option<String>, _>(0)
            })
            .await;
            match replayed {
                Ok(Ok(Some(lsn))) if parse_lsn(&lsn).is_some_and(|l| l >= target) => return true,
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None)) => {
                    tracing::warn!("the read replica is not a standby; reading from the primary");
                    return false;
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "the read replica does not answer; reading from the primary");
                    return false;
                }
                Err(_) => return false,
            }
            if tokio::time::Instant::now() + Duration::from_millis(20) >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The primary's current WAL position.
pub(crate) async fn current_lsn(primary: &DatabaseConnection) -> Result<u64, DomainError> {
    let row = primary
        .get_postgres_connection_pool()
        .fetch_one("SELECT pg_current_wal_lsn()::text")
        .await
        .map_err(|e| db_err(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))))?;
    let text: String = row
        .try_get(0)
        .map_err(|e| db_err(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))))?;
    parse_lsn(&text).ok_or_else(|| DomainError::Internal(format!("WAL position {text:?}")))
}

/// A WAL position as PostgreSQL writes it (`16/B374D848`: two hexadecimal halves).
pub(crate) fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_list_becomes_one_url_per_host() {
        let h = hosts(
            "postgres://app:p%2Bw@db1:5433,db2,10.0.0.3:6000/rapport?target_session_attrs=read-write&sslmode=disable",
        )
        .unwrap();
        let labels: Vec<&str> = h.iter().map(|h| h.label.as_str()).collect();
        assert_eq!(labels, ["db1:5433", "db2", "10.0.0.3:6000"]);
        assert_eq!(h[0].options.get_host(), "db1");
        assert_eq!(h[0].options.get_port(), 5433);
        assert_eq!(h[1].options.get_port(), 5432);
        assert_eq!(h[2].options.get_host(), "10.0.0.3");
        for one in &h {
            assert_eq!(one.options.get_database(), Some("rapport"));
            assert_eq!(one.options.get_username(), "app");
        }
        assert_eq!(hosts("postgres://db1/x").unwrap().len(), 1);
        assert!(hosts("postgres://db1,,db2/x").is_err());
        assert!(hosts("db1,db2").is_err());
    }

    #[test]
    fn session_attrs_are_dropped_and_other_parameters_kept() {
        assert_eq!(without_session_attrs("/r"), "/r");
        assert_eq!(without_session_attrs("/r?target_session_attrs=any"), "/r");
        assert_eq!(
            without_session_attrs("/r?a=1&target_session_attrs=any&b=2"),
            "/r?a=1&b=2"
        );
    }

    #[test]
    fn wal_positions_compare_as_numbers() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert!(parse_lsn("1/FFFFFFFF") < parse_lsn("2/0"));
        assert!(parse_lsn("0/A") > parse_lsn("0/9"));
        assert_eq!(parse_lsn("nonsense"), None);
        assert_eq!(parse_lsn("G/0"), None);
    }
}
