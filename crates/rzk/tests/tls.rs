//! TLS on the client port (`secureClientPort`), end to end: the real `rzk`
//! binary, a zoo.cfg written as for ZooKeeper (PEM key and trust stores),
//! certificates made at test time with rcgen, and an independently written
//! client (`zookeeper-client` with its `tls` feature) over real TCP.
//!
//! Method: each test makes a small PKI in a scratch directory (a CA, a server
//! certificate for 127.0.0.1 and localhost, a client certificate from the
//! same CA and one from a stranger CA), starts a server with both
//! `clientPort` and `secureClientPort`, and checks what a client of each kind
//! can and cannot do. The binary is `$RZK_BIN` when set (a release build),
//! else the one cargo built for this test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rzk_testkit::{free_port, Rzk};
use tokio::time::timeout;
use zookeeper_client as zk;

const STEP_TIMEOUT: Duration = Duration::from_secs(30);
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

fn rzk_bin() -> PathBuf {
    std::env::var_os("RZK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_rzk")))
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rzk-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// PEM text of the test PKI, and the files the server reads.
struct Pki {
    ca_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
    stranger_cert_pem: String,
    stranger_key_pem: String,
    /// The server's key store: private key and certificate chain in one
    /// file, as ZooKeeper 3.8's PEM key store.
    key_store: PathBuf,
    /// The CA certificate, the server's trust store.
    trust_store: PathBuf,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca")
}

/// A leaf certificate signed by `issuer`: (certificate PEM, key PEM).
fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    name: &str,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, issuer).expect("sign");
    (cert.pem(), key.serialize_pem())
}

fn make_pki(dir: &Path) -> Pki {
    let authority = ca("rzk test CA");
    let stranger = ca("some other CA");
    let (server_cert, server_key) = leaf(
        &authority,
        "rzk server",
        &["127.0.0.1", "localhost"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert_pem, client_key_pem) = leaf(
        &authority,
        "client",
        &["client"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let (stranger_cert_pem, stranger_key_pem) = leaf(
        &stranger,
        "stranger",
        &["stranger"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let key_store = dir.join("server.pem");
    // Key first, then the chain (leaf, CA): the order ZooKeeper's docs use.
    std::fs::write(
        &key_store,
        format!("{server_key}{server_cert}{}", authority.pem()),
    )
    .expect("key store");
    let trust_store = dir.join("ca.pem");
    std::fs::write(&trust_store, authority.pem()).expect("trust store");
    Pki {
        ca_pem: authority.pem(),
        client_cert_pem,
        client_key_pem,
        stranger_cert_pem,
        stranger_key_pem,
        key_store,
        trust_store,
    }
}

/// zoo.cfg lines for TLS with `ssl.clientAuth=<client_auth>`.
fn tls_lines(pki: &Pki, secure_port: u16, client_auth: &str) -> Vec<String> {
    vec![
        format!("secureClientPort={secure_port}"),
        "secureClientPortAddress=127.0.0.1".to_string(),
        "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory".to_string(),
        format!("ssl.keyStore.location={}", pki.key_store.display()),
        "ssl.keyStore.type=PEM".to_string(),
        format!("ssl.trustStore.location={}", pki.trust_store.display()),
        "ssl.trustStore.type=PEM".to_string(),
        format!("ssl.clientAuth={client_auth}"),
        "ssl.enabledProtocols=TLSv1.3,TLSv1.2,TLSv1.1".to_string(),
        "ssl.crl=true".to_string(),
    ]
}

fn start(pki: &Pki, client_auth: &str) -> (Rzk, u16) {
    let secure_port = free_port();
    let lines = tls_lines(pki, secure_port, client_auth);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let server = Rzk::start_with(&rzk_bin(), &lines).expect("start rzk with TLS");
    (server, secure_port)
}

fn runtime() -> tokio::runtime::Runtime {
    // Both rustls providers are compiled into this test (ring for rzk,
    // aws-lc-rs through zookeeper-client's rustls defaults): choose one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn tls_options(pki: &Pki, identity: Option<(&str, &str)>) -> zk::TlsOptions {
    let options = zk::TlsOptions::new().with_pem_ca(&pki.ca_pem).expect("ca");
    match identity {
        Some((cert, key)) => options.with_pem_identity(cert, key).expect("identity"),
        None => options,
    }
}

async fn secure_connect(port: u16, tls: zk::TlsOptions) -> Result<zk::Client, zk::Error> {
    zk::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .with_connection_timeout(Duration::from_secs(5))
        .with_fail_eagerly()
        .with_tls(tls)
        .secure_connect(&format!("127.0.0.1:{port}"))
        .await
}

async fn plain_connect(port: u16) -> Result<zk::Client, zk::Error> {
    zk::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .with_connection_timeout(Duration::from_secs(5))
        .with_fail_eagerly()
        .connect(&format!("127.0.0.1:{port}"))
        .await
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Sends raw bytes and reads whatever comes back until the server closes
/// (or 5 s pass).
/// Creates `path` with `data` through `writer` and reads it back through
/// `reader` (the same or another session).
async fn write_then_read(writer: &zk::Client, reader: &zk::Client, path: &str, data: &[u8]) {
    writer
        .create(path, data, &persistent())
        .await
        .unwrap_or_else(|e| panic!("create {path}: {e}"));
    let (read, _) = reader
        .get_data(path)
        .await
        .unwrap_or_else(|e| panic!("get {path}: {e}"));
    assert_eq!(read, data, "{path}");
}

fn raw_exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// A ZooKeeper ConnectRequest frame (protocol 0, new session, 10 s).
fn connect_request_frame() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&0i32.to_be_bytes()); // protocolVersion
    body.extend_from_slice(&0i64.to_be_bytes()); // lastZxidSeen
    body.extend_from_slice(&10_000i32.to_be_bytes()); // timeOut
    body.extend_from_slice(&0i64.to_be_bytes()); // sessionId
    body.extend_from_slice(&16i32.to_be_bytes()); // passwd length
    body.extend_from_slice(&[0u8; 16]);
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

fn log_text(server: &Rzk) -> String {
    std::fs::read_to_string(server.log_path()).unwrap_or_default()
}

#[test]
fn tls_and_plain_clients_share_one_server() {
    let dir = scratch_dir("both");
    let pki = make_pki(&dir);
    let (server, secure_port) = start(&pki, "none");
    let conf = server.four_letter("conf").expect("conf");
    assert!(
        conf.contains(&format!("secureClientPort={secure_port}\n")),
        "{conf}"
    );
    let rt = runtime();
    rt.block_on(async {
        timeout(STEP_TIMEOUT * 2, async {
            let secure = secure_connect(secure_port, tls_options(&pki, None))
                .await
                .expect("TLS client connects to secureClientPort");
            let plain = plain_connect(server.port())
                .await
                .expect("plain client connects to clientPort");

            // Writes and reads cross the two ports.
            write_then_read(&secure, &plain, "/tls", b"over tls").await;
            write_then_read(&plain, &secure, "/plain", b"in clear").await;

            // A watch set over TLS fires for a change made over plain TCP.
            let (_, _, watcher) = secure
                .get_and_watch_data("/tls")
                .await
                .expect("watch over TLS");
            plain
                .set_data("/tls", b"changed", None)
                .await
                .expect("plain set");
            let event = timeout(EVENT_TIMEOUT, watcher.changed())
                .await
                .expect("event over TLS");
            assert_eq!(event.event_type, zk::EventType::NodeDataChanged);
            assert_eq!(event.path, "/tls");

            // A plaintext ZooKeeper client on the TLS port gets nowhere...
            assert!(
                plain_connect(secure_port).await.is_err(),
                "a plaintext client must not get a session on the TLS port"
            );
            let answer = tokio::task::spawn_blocking(move || {
                (
                    raw_exchange(secure_port, &connect_request_frame()),
                    raw_exchange(secure_port, b"ruok"),
                )
            })
            .await
            .expect("raw clients");
            // (rustls may answer a TLS alert record: content type 21.)
            for reply in [&answer.0, &answer.1] {
                assert!(
                    reply.is_empty() || reply[0] == 21,
                    "plaintext bytes on the TLS port got {reply:?}"
                );
            }
            // ...and harms nobody: both sessions still work.
            let (data, _) = secure.get_data("/tls").await.expect("TLS get after");
            assert_eq!(data, b"changed");
            plain.get_data("/plain").await.expect("plain get after");
            // Dropping the last handle closes a session.
            drop(secure);
            drop(plain);
        })
        .await
        .expect("scenario within its time")
    });
    assert_eq!(server.four_letter("ruok").expect("ruok"), "imok");
    let log = log_text(&server);
    assert!(log.contains("TLS handshake failed"), "{log}");
    for key in ["ssl.crl=true", "TLSv1.1"] {
        assert!(
            log.lines()
                .any(|l| l.contains("WARN") && l.contains(key) && l.contains("not honoured")),
            "a WARN naming {key}: {log}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn client_auth_need_requires_a_certificate_from_the_trust_store() {
    let dir = scratch_dir("need");
    let pki = make_pki(&dir);
    let (server, secure_port) = start(&pki, "need");
    let rt = runtime();
    rt.block_on(async {
        timeout(STEP_TIMEOUT * 2, async {
            assert!(
                secure_connect(secure_port, tls_options(&pki, None))
                    .await
                    .is_err(),
                "no client certificate: refused"
            );
            let stranger = Some((
                pki.stranger_cert_pem.as_str(),
                pki.stranger_key_pem.as_str(),
            ));
            assert!(
                secure_connect(secure_port, tls_options(&pki, stranger))
                    .await
                    .is_err(),
                "a certificate from another CA: refused"
            );
            let identity = Some((pki.client_cert_pem.as_str(), pki.client_key_pem.as_str()));
            let client = secure_connect(secure_port, tls_options(&pki, identity))
                .await
                .expect("a certificate signed by the trust store's CA is accepted");
            write_then_read(&client, &client, "/authenticated", b"yes").await;
            drop(client);
            // The plain port is unaffected by clientAuth.
            let plain = plain_connect(server.port()).await.expect("plain");
            plain.get_data("/authenticated").await.expect("plain get");
        })
        .await
        .expect("scenario within its time")
    });
    let log = log_text(&server);
    assert!(log.contains("TLS handshake failed"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn client_auth_want_serves_clients_with_and_without_certificates() {
    let dir = scratch_dir("want");
    let pki = make_pki(&dir);
    let (_server, secure_port) = start(&pki, "want");
    let rt = runtime();
    rt.block_on(async {
        timeout(STEP_TIMEOUT * 2, async {
            let anonymous = secure_connect(secure_port, tls_options(&pki, None))
                .await
                .expect("no client certificate: served");
            anonymous
                .create("/want", b"", &persistent())
                .await
                .expect("create without a certificate");
            let identity = Some((pki.client_cert_pem.as_str(), pki.client_key_pem.as_str()));
            let known = secure_connect(secure_port, tls_options(&pki, identity))
                .await
                .expect("a trusted certificate: served");
            known
                .get_data("/want")
                .await
                .expect("get with a certificate");
            // A certificate that does not chain to the trust store is
            // refused even though one is only wanted (Java's trust manager
            // fails such a handshake too).
            let stranger = Some((
                pki.stranger_cert_pem.as_str(),
                pki.stranger_key_pem.as_str(),
            ));
            assert!(
                secure_connect(secure_port, tls_options(&pki, stranger))
                    .await
                    .is_err(),
                "a certificate from another CA: refused"
            );
            anonymous.get_data("/want").await.expect("still served");
        })
        .await
        .expect("scenario within its time")
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts the binary on a zoo.cfg that must be refused; returns its stderr.
fn refused_start(dir: &Path, extra: &str) -> String {
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\nsecureClientPort={}\n{extra}",
            dir.join("data").display(),
            free_port(),
            free_port()
        ),
    )
    .expect("cfg");
    let mut child = Command::new(rzk_bin())
        .args(["server", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("rzk started with a bad TLS configuration: {extra}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    err
}

#[test]
fn unusable_stores_stop_the_start_with_a_clear_message() {
    let dir = scratch_dir("refused");
    let pki = make_pki(&dir);
    std::fs::write(dir.join("keystore.jks"), b"\xfe\xed\xfe\xed").expect("jks");
    let err = refused_start(
        &dir,
        &format!(
            "ssl.keyStore.location={}\nssl.clientAuth=none\n",
            dir.join("keystore.jks").display()
        ),
    );
    assert!(
        err.contains("JKS store") && err.contains("PEM") && err.contains("openssl pkcs12"),
        "{err}"
    );
    let err = refused_start(
        &dir,
        &format!("ssl.keyStore.location={}\n", pki.key_store.display()),
    );
    assert!(err.contains("needs ssl.trustStore.location"), "{err}");
    let err = refused_start(
        &dir,
        &format!(
            "ssl.keyStore.location={}\nssl.clientAuth=none\n",
            pki.trust_store.display()
        ),
    );
    assert!(err.contains("no usable private key"), "{err}");
    let missing = dir.join("no-such-file.pem");
    let err = refused_start(
        &dir,
        &format!(
            "ssl.keyStore.location={}\nssl.clientAuth=none\n",
            missing.display()
        ),
    );
    assert!(
        err.contains("ssl.keyStore.location") && err.contains("no-such-file.pem"),
        "{err}"
    );
    let err = refused_start(
        &dir,
        &format!(
            "ssl.keyStore.location={}\nssl.trustStore.location={}\n",
            pki.key_store.display(),
            missing.display()
        ),
    );
    assert!(
        err.contains("ssl.trustStore.location") && err.contains("no-such-file.pem"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Netty jars the Java client's TLS socket (`ClientCnxnSocketNetty`) needs
/// that the Class-Path of Debian's `zookeeper.jar` leaves out: `zkCli.sh` as
/// Debian ships it cannot open a Netty connection at all
/// (`NoClassDefFoundError: io/netty/resolver/AddressResolverGroup`), so the
/// test (and the README) passes a fuller `-cp` in `CLIENT_JVMFLAGS`, which
/// comes after the script's own `-cp` and wins.
const NETTY_JARS_DEBIAN_OMITS: &[&str] = &[
    "/usr/share/java/netty-resolver.jar",
    "/usr/share/java/netty-codec.jar",
];

/// Debian's `zkCli.sh` over TLS with the Netty socket and a client
/// certificate, configured with the `zookeeper.ssl.*` properties a
/// ZooKeeper user would pass. Skipped (with a line saying so) where the
/// package is not installed.
#[test]
fn zkcli_connects_over_tls() {
    let needed = [rzk_testkit::ZKCLI, rzk_testkit::ZOOKEEPER_JAR]
        .into_iter()
        .chain(NETTY_JARS_DEBIAN_OMITS.iter().copied());
    if let Some(missing) = needed.clone().find(|j| !Path::new(j).is_file()) {
        eprintln!("skipped: {missing} is not installed");
        return;
    }
    let dir = scratch_dir("zkcli");
    let pki = make_pki(&dir);
    let client_pem = dir.join("client.pem");
    std::fs::write(
        &client_pem,
        format!("{}{}", pki.client_key_pem, pki.client_cert_pem),
    )
    .expect("client key store");
    let (server, secure_port) = start(&pki, "need");
    let classpath = format!(
        "{}:{}:{}",
        rzk_testkit::ZOOKEEPER_CONF_DIR,
        rzk_testkit::ZOOKEEPER_JAR,
        NETTY_JARS_DEBIAN_OMITS.join(":")
    );
    let flags = |with_certificate: bool| {
        let mut flags = vec![
            "-Xshare:auto".to_string(),
            "-XX:TieredStopAtLevel=1".to_string(),
            "-XX:+UseSerialGC".to_string(),
            format!("-cp {classpath}"),
            "-Dzookeeper.client.secure=true".to_string(),
            "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty".to_string(),
            format!(
                "-Dzookeeper.ssl.trustStore.location={}",
                pki.trust_store.display()
            ),
            "-Dzookeeper.ssl.trustStore.type=PEM".to_string(),
        ];
        if with_certificate {
            flags.push(format!(
                "-Dzookeeper.ssl.keyStore.location={}",
                client_pem.display()
            ));
            flags.push("-Dzookeeper.ssl.keyStore.type=PEM".to_string());
        }
        flags.join(" ")
    };
    let run = |with_certificate: bool, args: &[&str]| {
        let out = Command::new(rzk_testkit::ZKCLI)
            .arg("-server")
            .arg(format!("127.0.0.1:{secure_port}"))
            .args(args)
            .env("CLIENT_JVMFLAGS", flags(with_certificate))
            .env("ZOO_LOG_DIR", &dir)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .output()
            .expect("run zkCli.sh");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, text) = run(true, &["create", "/from-zkcli", "hello"]);
    assert!(ok && text.contains("Created /from-zkcli"), "{text}");
    let (ok, text) = run(true, &["get", "/from-zkcli"]);
    assert!(ok && text.contains("hello"), "{text}");
    // ssl.clientAuth=need: without a certificate the Java client gets no
    // session.
    let (ok, text) = run(false, &["get", "/from-zkcli"]);
    assert!(!ok && text.contains("ConnectionLoss"), "{text}");
    assert!(
        log_text(&server).contains("peer sent no certificates"),
        "{}",
        log_text(&server)
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
