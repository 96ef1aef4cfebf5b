//! The listener: binds the client port, builds and starts the replica (the
//! ordered, durable log; a standalone server is an ensemble of one), starts
//! the background tasks (role follower, session expiry and activity reports,
//! container checker, idle memory release), accepts connections within
//! `maxClientCnxns`, and shuts everything down in order.

use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::conn_table::ConnEntry;
use crate::control::{CloseReason, ConnControl};
use crate::limits::{ACCEPT_ERROR_BACKOFF_MS, CLOSE_FLUSH_TIMEOUT_MS};
use crate::log;
use crate::session::{first_session_id, SessionTracker};
use crate::shared::Shared;
use crate::stats::ConnStats;
use crate::transport::Port;
use rzk_state::DataTree;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// A bound, not yet running server.
pub struct Server {
    shared: Arc<Shared>,
    listener: TcpListener,
    /// `secureClientPort`'s listener and TLS configuration, if set.
    secure: Option<(TcpListener, TlsAcceptor)>,
    built: crate::replicated::Built,
    /// The admin server's listener (`admin.enableServer`), if it is on and
    /// its port could be bound.
    admin: Option<TcpListener>,
    /// Prometheus' `/metrics` listener, if `metricsProvider` asks for it.
    metrics: Option<TcpListener>,
}

impl Server {
    /// Creates the data directories and binds the client port and, when
    /// set, the secure client port (port 0 picks a free one; `conf` then
    /// reports the real port). TLS settings are checked here, so a bad key
    /// store stops the start.
    pub async fn bind(mut config: ServerConfig) -> io::Result<Server> {
        std::fs::create_dir_all(&config.data_dir)?;
        std::fs::create_dir_all(&config.data_log_dir)?;
        if config.ssl_quorum {
            tracing::warn!("sslQuorum=true is not honoured: rzk's peer port has no TLS");
        }
        let acceptor = crate::tls::acceptor(&config)?;
        let listener = TcpListener::bind(config.client_address()).await?;
        config.client_port = listener.local_addr()?.port();
        let secure = match (config.secure_client_address(), acceptor) {
            (Some(address), Some(acceptor)) => {
                let listener = TcpListener::bind(address).await.map_err(|e| {
                    io::Error::new(e.kind(), format!("secureClientPort {address}: {e}"))
                })?;
                config.secure_client_port = Some(listener.local_addr()?.port());
                Some((listener, acceptor))
            }
            _ => None,
        };
        let clock = Clock::new();
        let hooks = Arc::new(crate::replicated::ServerHooks::default());
        let started = std::time::Instant::now();
        let (restored, tree) = match crate::replicated::load_snapshot(&config)? {
            Some((meta, tree)) => {
                tracing::info!(
                    "Restored {} znodes and {} sessions from the snapshot at index {} in {} ms",
                    tree.node_count(),
                    tree.sessions().len(),
                    meta.last_log_id.map_or(0, |id| id.index),
                    started.elapsed().as_millis()
                );
                (Some(meta), tree)
            }
            None => (
                None,
                DataTree::new(crate::replicated::state_config(&config)),
            ),
        };
        let admin = bind_admin(&config).await?;
        let metrics = bind_metrics(&config).await?;
        let built = crate::replicated::build_replica(&config, hooks.clone(), restored).await?;
        // Loading the snapshot and scanning the log freed tens of MiB (tables
        // outgrown while the tree was built, read buffers) that the allocator
        // would keep until this thread allocates again, which an idle server
        // may not do for a long time.
        rzk_replica::release_memory();
        let log = log::LogHandle::replicated(built.replica.proposer());
        let mut sessions = SessionTracker::new(
            u64::from(config.tick_time_ms),
            first_session_id(clock.wall_ms(), config.my_id),
        );
        // Sessions in the snapshot; those in the log replay are tracked as
        // they are applied.
        sessions.track_tree_sessions(&tree, clock.now_ms());
        let shared = Arc::new(Shared::new(config, clock, log, tree, sessions));
        hooks.attach(&shared);
        let _ = shared.replica_status.set(built.replica.status_handle());
        // `role::follow` opens the gate once the replica is ready.
        shared
            .serving
            .store(false, std::sync::atomic::Ordering::Release);
        Ok(Server {
            shared,
            listener,
            secure,
            built,
            admin,
            metrics,
        })
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Where the admin server listens, if it runs.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where the TLS client listener is, if `secureClientPort` is set.
    pub fn secure_addr(&self) -> Option<SocketAddr> {
        self.secure.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Serves until `shutdown` completes, then closes every connection and
    /// stops the background tasks.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let Server {
            shared,
            listener,
            secure,
            built,
            admin,
            metrics,
        } = self;
        let crate::replicated::Built {
            mut replica,
            voters,
            observers,
        } = built;
        replica.run();
        if !voters.is_empty() {
            replica.initialize(voters).await.map_err(io::Error::other)?;
        }
        // Supervision: `follow` returns only when raft stops.
        let mut stopped = tokio::spawn(crate::role::follow(
            shared.clone(),
            replica.status_handle(),
            observers,
        ));
        let background = [
            tokio::spawn(crate::session::run_expiry(shared.clone())),
            tokio::spawn(crate::session::run_activity_reports(shared.clone())),
            tokio::spawn(crate::container::run_container_checker(shared.clone())),
            tokio::spawn(crate::idle_memory::run_idle_memory_release(shared.clone())),
        ];
        let admin_task = admin.map(|listener| {
            let handler = crate::admin::handler(shared.clone());
            tokio::spawn(crate::http::serve(listener, "admin server", handler))
        });
        let metrics_task = metrics.map(|listener| {
            let handler = crate::metrics::handler(shared.clone());
            tokio::spawn(crate::http::serve(listener, "metrics", handler))
        });
        tracing::info!(
            "rzk serving clients on {} (Zookeeper version {})",
            listener.local_addr()?,
            crate::fourlw::VERSION
        );
        if let Some((secure, _)) = &secure {
            tracing::info!("rzk serving TLS clients on {}", secure.local_addr()?);
        }

        let mut connections = JoinSet::new();
        let mut failure = None;
        tokio::pin!(shutdown);
        // Runs until shutdown: accept, reap finished connection tasks.
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                // Raft stopped (a fatal storage error, or a panic while
                // applying: the tree may be half-changed): stop rather than
                // serve it.
                ended = &mut stopped => {
                    let why = ended.unwrap_or_else(|e| format!("role follower failed: {e}"));
                    tracing::error!("{why}; shutting down");
                    failure = Some(io::Error::other(why));
                    break;
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => accept(&shared, &mut connections, stream, peer, None),
                    Err(e) => {
                        tracing::warn!("Error accepting new connection: {e}");
                        tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_BACKOFF_MS)).await;
                    }
                },
                // `accept` is cancel safe: a fresh future each turn loses nothing.
                accepted = accept_secure(secure.as_ref()) => match accepted {
                    Ok((stream, peer, acceptor)) => {
                        accept(&shared, &mut connections, stream, peer, Some(acceptor))
                    }
                    Err(e) => {
                        tracing::warn!("Error accepting new secure connection: {e}");
                        tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_BACKOFF_MS)).await;
                    }
                },
            }
        }
        tracing::info!(
            "Shutting down: closing {} connections",
            shared.conns().len()
        );
        drop(listener);
        drop(secure);
        shared.conns().close_all(&CloseReason::Shutdown);
        let drain = async { while connections.join_next().await.is_some() {} };
        let grace = Duration::from_millis(2 * CLOSE_FLUSH_TIMEOUT_MS);
        if tokio::time::timeout(grace, drain).await.is_err() {
            connections.abort_all();
        }
        stopped.abort();
        replica.shutdown().await;
        for task in background.into_iter().chain(admin_task).chain(metrics_task) {
            task.abort();
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Binds the admin server's port when `admin.enableServer` is on. When the
/// port cannot be bound, ZooKeeper 3.8 behaves in two ways and rzk follows
/// both: a standalone server refuses to start ("Unable to start
/// AdminServer, exiting abnormally"), an ensemble member logs the problem
/// and runs without it (`QuorumPeer.start`), so that one busy port does not
/// take a voter out of its quorum.
async fn bind_admin(config: &ServerConfig) -> io::Result<Option<TcpListener>> {
    let admin = &config.admin;
    if !admin.enable_server {
        return Ok(None);
    }
    let address = format!("{}:{}", admin.server_address, admin.server_port);
    match TcpListener::bind(&address).await {
        Ok(listener) => {
            tracing::info!(
                "Started AdminServer on address {}, port {} and command URL {}",
                admin.server_address,
                listener.local_addr()?.port(),
                admin.command_url
            );
            Ok(Some(listener))
        }
        Err(e) if config.ensemble.is_empty() => Err(io::Error::new(
            e.kind(),
            format!("Unable to start AdminServer on {address}: {e}"),
        )),
        Err(e) => {
            tracing::warn!("Problem starting AdminServer on {address}: {e}; running without it");
            Ok(None)
        }
    }
}

/// Binds Prometheus' port when the provider is configured. As in ZooKeeper,
/// whose server exits when its metrics provider cannot start, a port that
/// cannot be bound stops the start.
async fn bind_metrics(config: &ServerConfig) -> io::Result<Option<TcpListener>> {
    let metrics = &config.metrics;
    if !metrics.prometheus_enabled {
        return Ok(None);
    }
    let address = format!("{}:{}", metrics.http_host, metrics.http_port);
    let listener = TcpListener::bind(&address).await.map_err(|e| {
        io::Error::new(e.kind(), format!("Cannot start /metrics on {address}: {e}"))
    })?;
    tracing::info!(
        "Starting /metrics HTTP endpoint at host: {}, port: {}",
        metrics.http_host,
        listener.local_addr()?.port()
    );
    Ok(Some(listener))
}

/// The next connection on the secure client port; never, without one.
async fn accept_secure(
    secure: Option<&(TcpListener, TlsAcceptor)>,
) -> io::Result<(TcpStream, SocketAddr, TlsAcceptor)> {
    match secure {
        Some((listener, acceptor)) => {
            let (stream, peer) = listener.accept().await?;
            Ok((stream, peer, acceptor.clone()))
        }
        None => std::future::pending().await,
    }
}

/// Registers and spawns one accepted connection, or refuses it. A
/// connection on the secure port (`tls` is its acceptor) is counted from
/// here, before its TLS handshake.
fn accept(
    shared: &Arc<Shared>,
    tasks: &mut JoinSet<()>,
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
) {
    let entry = ConnEntry {
        peer,
        port: if tls.is_some() {
            Port::Secure
        } else {
            Port::Plain
        },
        control: Arc::new(ConnControl::new()),
        stats: Arc::new(ConnStats::new(shared.clock.now_ms())),
    };
    let limit = shared.config.max_client_cnxns_per_ip;
    let opened = shared.conns().open(entry.clone(), limit);
    match opened {
        Ok(conn_id) => match tls {
            None => {
                tasks.spawn(crate::connection::serve(
                    shared.clone(),
                    stream,
                    conn_id,
                    entry,
                ));
            }
            Some(acceptor) => {
                tasks.spawn(crate::tls::serve(
                    shared.clone(),
                    acceptor,
                    stream,
                    conn_id,
                    entry,
                ));
            }
        },
        Err(refused) => {
            // Dropping the stream closes it, as ZooKeeper's fastCloseSock.
            tracing::warn!(
                "Error accepting new connection: Too many connections from {} - max is {}",
                peer.ip(),
                refused.limit
            );
        }
    }
}
