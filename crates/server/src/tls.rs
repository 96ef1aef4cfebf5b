//! TLS on the client port (`secureClientPort`), configured with ZooKeeper's
//! `ssl.*` keys and served by rustls with the `ring` provider.
//!
//! ZooKeeper reads its stores through Java's key store types; rzk reads PEM
//! only, as ZooKeeper 3.8's `PEM` store type lays it out: the key store is one
//! file holding the private key and the certificate chain (leaf first), the
//! trust store a file of CA certificates. A JKS, PKCS12 or BCFKS store stops
//! the start with the commands that convert it (see the README).
//!
//! What ZooKeeper keys mean here (anything else under `ssl.` gets a warning
//! naming it, at start):
//!
//! | key | rzk |
//! |---|---|
//! | `ssl.keyStore.location` | PEM: private key + certificate chain (required) |
//! | `ssl.keyStore.type` | `PEM`, or absent with a `.pem` file |
//! | `ssl.keyStore.password` | only allowed with an unencrypted key |
//! | `ssl.trustStore.location`, `.type` | PEM CA certificates for client certificates |
//! | `ssl.clientAuth` | `none`, `want`, `need` (ZooKeeper's default: need) |
//! | `ssl.protocol`, `ssl.enabledProtocols` | TLSv1.2 and TLSv1.3; older ones are warned about and left out |
//! | `ssl.ciphersuites` | the IANA names rustls implements; others are warned about and left out |
//!
//! The handshake runs in the connection's task, after the connection has
//! been counted against `maxClientCnxns`, and must finish within
//! [`TLS_HANDSHAKE_TIMEOUT_MS`]. A client that is not speaking TLS fails the
//! handshake and is closed with a log line; nothing else is affected.

use crate::config::{ServerConfig, SslProperties};
use crate::conn_table::ConnEntry;
use crate::limits::TLS_HANDSHAKE_TIMEOUT_MS;
use crate::shared::Shared;
use crate::watch::ConnId;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, SupportedProtocolVersion};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// `ssl.clientAuth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate is asked for.
    None,
    /// One is asked for; a client without one is still served.
    Want,
    /// A client without a certificate signed by the trust store is refused.
    Need,
}

/// Keys ZooKeeper knows under `ssl.` that rzk reads.
const HONOURED_KEYS: &[&str] = &[
    "ssl.keyStore.location",
    "ssl.keyStore.password",
    "ssl.keyStore.type",
    "ssl.trustStore.location",
    "ssl.trustStore.type",
    "ssl.clientAuth",
    "ssl.protocol",
    "ssl.enabledProtocols",
    "ssl.ciphersuites",
];

/// Keys that do not matter with PEM files and rustls: a PEM trust store
/// has no password; the authentication provider is always `x509`'s
/// behaviour (certificate checked against the trust store); the detection
/// timeout is for port unification, which rzk does not do.
const HARMLESS_KEYS: &[&str] = &[
    "ssl.trustStore.password",
    "ssl.authProvider",
    "ssl.handshakeDetectionTimeoutMillis",
];

/// Builds the acceptor for `secureClientPort`, or `None` when it is not
/// configured. Every problem is an error naming the key or file, so a
/// misconfigured server does not start half secure; a key that cannot be
/// honoured is a warning naming it.
pub fn acceptor(config: &ServerConfig) -> io::Result<Option<TlsAcceptor>> {
    if config.secure_client_port.is_none() {
        return Ok(None);
    }
    let ssl = &config.ssl;
    warn_unhonoured(ssl);
    let provider = provider(ssl)?;
    let versions = protocol_versions(ssl)?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| invalid(format!("ssl.enabledProtocols / ssl.ciphersuites: {e}")))?;
    let client_auth = client_auth(ssl)?;
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Want | ClientAuth::Need => {
            let roots = trust_store(ssl, client_auth)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider);
            let verifier = match client_auth {
                ClientAuth::Want => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier
                .build()
                .map_err(|e| invalid(format!("ssl.trustStore.location: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let (chain, key, key_path) = key_store(ssl)?;
    let server = builder.with_single_cert(chain, key).map_err(|e| {
        invalid(format!(
            "ssl.keyStore.location {}: {e} (the key must belong to the first certificate)",
            key_path.display()
        ))
    })?;
    tracing::info!(
        "TLS on the secure client port: key store {}, client certificates {:?}, protocols {:?}",
        key_path.display(),
        client_auth,
        versions.iter().map(|v| v.version).collect::<Vec<_>>()
    );
    Ok(Some(TlsAcceptor::from(Arc::new(server))))
}

/// Runs the TLS handshake of a connection accepted on the secure port, then
/// serves it like any other. The connection is already in the connection
/// table (counted against `maxClientCnxns`); this leaves it on failure.
pub async fn serve(
    shared: Arc<Shared>,
    acceptor: TlsAcceptor,
    stream: TcpStream,
    conn_id: ConnId,
    entry: ConnEntry,
) {
    let timeout = Duration::from_millis(TLS_HANDSHAKE_TIMEOUT_MS);
    let handshake = tokio::time::timeout(timeout, acceptor.accept(stream));
    let failure = tokio::select! {
        reason = entry.control.closed() => reason.to_string(),
        done = handshake => match done {
            Ok(Ok(tls)) => {
                let (_, session) = tls.get_ref();
                tracing::debug!(
                    "TLS handshake with {} done: {:?}, {:?}, client certificate: {}",
                    entry.peer,
                    session.protocol_version(),
                    session.negotiated_cipher_suite().map(|s| s.suite()),
                    session.peer_certificates().is_some_and(|c| !c.is_empty())
                );
                crate::connection::serve(shared, tls, conn_id, entry).await;
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no handshake within {TLS_HANDSHAKE_TIMEOUT_MS} ms"),
        },
    };
    shared.conns().close(conn_id);
    tracing::info!(
        "Closed connection from {} on the secure client port: TLS handshake failed: {failure}",
        entry.peer
    );
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

fn warn_unhonoured(ssl: &SslProperties) {
    for (key, value) in ssl.iter() {
        if HONOURED_KEYS.contains(&key) || HARMLESS_KEYS.contains(&key) {
            continue;
        }
        let why = match key {
            "ssl.hostnameVerification" | "ssl.clientHostnameVerification" => {
                if value.eq_ignore_ascii_case("false") {
                    continue;
                }
                "rzk does not match client certificates against the client's host name"
            }
            "ssl.crl" | "ssl.ocsp" => {
                if value.eq_ignore_ascii_case("false") {
                    continue;
                }
                "rzk does not check certificate revocation"
            }
            "ssl.sslProvider" | "ssl.context.supplier.class" => "rzk always uses rustls",
            "ssl.keyStore.passwordPath" | "ssl.trustStore.passwordPath" => {
                "rzk reads unencrypted PEM keys only"
            }
            _ if key.starts_with("ssl.quorum.") => "rzk's peer port has no TLS",
            _ => "not a key rzk knows",
        };
        tracing::warn!("{key}={value} is not honoured: {why}");
    }
}

/// The `ring` provider, with the cipher suites `ssl.ciphersuites` names
/// (all of ring's when absent), in the order the key lists them.
fn provider(ssl: &SslProperties) -> io::Result<Arc<CryptoProvider>> {
    let mut provider = rustls::crypto::ring::default_provider();
    let Some(list) = ssl.get("ssl.ciphersuites") else {
        return Ok(Arc::new(provider));
    };
    let available = std::mem::take(&mut provider.cipher_suites);
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let found = available
            .iter()
            .find(|s| iana_name(s.suite()).is_some_and(|n| n.eq_ignore_ascii_case(name)));
        match found {
            Some(suite) if !provider.cipher_suites.contains(suite) => {
                provider.cipher_suites.push(*suite)
            }
            Some(_) => {}
            None => tracing::warn!(
                "ssl.ciphersuites: {name} is not honoured: rustls does not implement it \
                 (rzk offers {})",
                available
                    .iter()
                    .filter_map(|s| iana_name(s.suite()))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
    if provider.cipher_suites.is_empty() {
        return Err(invalid(format!(
            "ssl.ciphersuites={list}: none of these cipher suites is available"
        )));
    }
    Ok(Arc::new(provider))
}

/// A cipher suite's IANA name, as Java and ZooKeeper spell it (rustls calls
/// the TLS 1.3 ones `TLS13_*`).
fn iana_name(suite: rustls::CipherSuite) -> Option<String> {
    let name = suite.as_str()?;
    Some(match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name.to_string(),
    })
}

/// `ssl.enabledProtocols`, or what Java enables for `ssl.protocol` (its
/// default, TLSv1.3, enables TLSv1.3 and TLSv1.2).
fn protocol_versions(ssl: &SslProperties) -> io::Result<Vec<&'static SupportedProtocolVersion>> {
    let (key, list) = match ssl.get("ssl.enabledProtocols") {
        Some(list) => ("ssl.enabledProtocols", list.to_string()),
        None => match ssl.get("ssl.protocol").unwrap_or("TLSv1.3") {
            p if p == "TLSv1.3" || p == "TLS" => ("ssl.protocol", "TLSv1.3,TLSv1.2".to_string()),
            p => ("ssl.protocol", p.to_string()),
        },
    };
    let mut versions = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let version = match name {
            "TLSv1.3" => &rustls::version::TLS13,
            "TLSv1.2" => &rustls::version::TLS12,
            other => {
                tracing::warn!(
                    "{key}: {other} is not honoured: rustls speaks only TLSv1.2 and TLSv1.3"
                );
                continue;
            }
        };
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    if versions.is_empty() {
        return Err(invalid(format!(
            "{key}={list}: no protocol rzk supports (TLSv1.2, TLSv1.3)"
        )));
    }
    Ok(versions)
}

fn client_auth(ssl: &SslProperties) -> io::Result<ClientAuth> {
    match ssl
        .get("ssl.clientAuth")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        // ZooKeeper's default (X509Util.ClientAuth.fromPropertyValue).
        None | Some("need") => Ok(ClientAuth::Need),
        Some("want") => Ok(ClientAuth::Want),
        Some("none") => Ok(ClientAuth::None),
        Some(other) => Err(invalid(format!(
            "ssl.clientAuth={other}: expected none, want or need"
        ))),
    }
}

/// Checks that a store is PEM: `ssl.<store>.type` if set, else the file
/// name's extension, as ZooKeeper's `KeyStoreFileType.fromPropertyValueOrFileName`.
fn require_pem(type_key: &str, type_value: Option<&str>, path: &Path) -> io::Result<()> {
    let kind = match type_value {
        Some(t) => t.to_ascii_uppercase(),
        None => {
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            match ext.as_str() {
                "pem" | "crt" | "key" => "PEM".to_string(),
                "jks" => "JKS".to_string(),
                "p12" | "pfx" => "PKCS12".to_string(),
                "bcfks" => "BCFKS".to_string(),
                _ => {
                    return Err(invalid(format!(
                        "{}: cannot tell the store type from its name; set {type_key}=PEM",
                        path.display()
                    )))
                }
            }
        }
    };
    match kind.as_str() {
        "PEM" => Ok(()),
        "JKS" | "PKCS12" | "BCFKS" => Err(invalid(format!(
            "{} is a {kind} store; rzk reads PEM files only. Convert it (README, \"TLS\"): \
             keytool -importkeystore -srckeystore <store> -destkeystore store.p12 \
             -deststoretype PKCS12, then openssl pkcs12 -in store.p12 -out store.pem -nodes \
             (a trust store: openssl pkcs12 -in trust.p12 -nokeys -out ca.pem), and set \
             {type_key}=PEM",
            path.display()
        ))),
        other => Err(invalid(format!(
            "{type_key}={other}: expected PEM (or JKS, PKCS12, BCFKS, which rzk asks you to convert)"
        ))),
    }
}

fn read_pem_file(key: &str, path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{key} {}: {e}", path.display())))
}

/// `ssl.keyStore.*`: the certificate chain and the private key, from one
/// PEM file.
fn key_store(
    ssl: &SslProperties,
) -> io::Result<(
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    PathBuf,
)> {
    let path = PathBuf::from(ssl.get("ssl.keyStore.location").ok_or_else(|| {
        invalid("secureClientPort is set but ssl.keyStore.location is not".to_string())
    })?);
    require_pem("ssl.keyStore.type", ssl.get("ssl.keyStore.type"), &path)?;
    let pem = read_pem_file("ssl.keyStore.location", &path)?;
    let text = String::from_utf8_lossy(&pem);
    if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(invalid(format!(
            "ssl.keyStore.location {}: the private key is encrypted, which rzk cannot read; \
             decrypt it (openssl pkey -in <encrypted key> -out key.pem) and keep the file \
             readable only by the server",
            path.display()
        )));
    }
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("ssl.keyStore.location {}: {e}", path.display())))?;
    if chain.is_empty() {
        return Err(invalid(format!(
            "ssl.keyStore.location {}: no CERTIFICATE block (the file must hold the private \
             key and the certificate chain)",
            path.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        invalid(format!(
            "ssl.keyStore.location {}: no usable private key ({e}); the file must hold the \
             private key and the certificate chain",
            path.display()
        ))
    })?;
    Ok((chain, key, path))
}

/// `ssl.trustStore.*`: the CA certificates a client certificate must chain to.
fn trust_store(ssl: &SslProperties, client_auth: ClientAuth) -> io::Result<RootCertStore> {
    let Some(location) = ssl.get("ssl.trustStore.location") else {
        return Err(invalid(format!(
            "ssl.clientAuth={} needs ssl.trustStore.location (PEM CA certificates): rzk has \
             no default trust store. Set ssl.clientAuth=none to serve clients without \
             certificates",
            format!("{client_auth:?}").to_ascii_lowercase()
        )));
    };
    let path = PathBuf::from(location);
    require_pem("ssl.trustStore.type", ssl.get("ssl.trustStore.type"), &path)?;
    let pem = read_pem_file("ssl.trustStore.location", &path)?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert =
            cert.map_err(|e| invalid(format!("ssl.trustStore.location {}: {e}", path.display())))?;
        roots.add(cert).map_err(|e| {
            invalid(format!(
                "ssl.trustStore.location {}: a certificate cannot be a trust anchor: {e}",
                path.display()
            ))
        })?;
    }
    if roots.is_empty() {
        return Err(invalid(format!(
            "ssl.trustStore.location {}: no CERTIFICATE block",
            path.display()
        )));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> SslProperties {
        let mut p = SslProperties::default();
        for (k, v) in pairs {
            p.insert(k, v);
        }
        p
    }

    #[test]
    fn protocols_follow_java() {
        let v = |pairs: &[(&str, &str)]| {
            protocol_versions(&props(pairs))
                .map(|v| v.iter().map(|v| v.version).collect::<Vec<_>>())
        };
        use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
        assert_eq!(v(&[]).unwrap(), vec![TLSv1_3, TLSv1_2]);
        assert_eq!(v(&[("ssl.protocol", "TLSv1.2")]).unwrap(), vec![TLSv1_2]);
        assert_eq!(
            v(&[("ssl.enabledProtocols", "TLSv1.1, TLSv1.2")]).unwrap(),
            vec![TLSv1_2]
        );
        assert!(v(&[("ssl.enabledProtocols", "TLSv1,TLSv1.1")]).is_err());
    }

    #[test]
    fn cipher_suites_by_iana_name() {
        let p = provider(&props(&[(
            "ssl.ciphersuites",
            "TLS_AES_128_GCM_SHA256,TLS_RSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        )]))
        .unwrap();
        let names: Vec<_> = p
            .cipher_suites
            .iter()
            .filter_map(|s| iana_name(s.suite()))
            .collect();
        assert_eq!(
            names,
            vec![
                "TLS_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
            ]
        );
        assert!(provider(&props(&[("ssl.ciphersuites", "TLS_RSA_WITH_RC4_128_MD5")])).is_err());
    }

    #[test]
    fn store_types() {
        let pem = Path::new("/x/server.pem");
        assert!(require_pem("ssl.keyStore.type", None, pem).is_ok());
        assert!(require_pem("ssl.keyStore.type", Some("pem"), Path::new("/x/k")).is_ok());
        let jks = require_pem("ssl.keyStore.type", None, Path::new("/x/keystore.jks"))
            .unwrap_err()
            .to_string();
        assert!(
            jks.contains("JKS store") && jks.contains("openssl pkcs12"),
            "{jks}"
        );
        assert!(require_pem("ssl.keyStore.type", Some("PKCS12"), pem).is_err());
        assert!(require_pem("ssl.keyStore.type", None, Path::new("/x/store")).is_err());
    }

    #[test]
    fn client_auth_default_is_need() {
        assert_eq!(client_auth(&props(&[])).unwrap(), ClientAuth::Need);
        assert_eq!(
            client_auth(&props(&[("ssl.clientAuth", "WANT")])).unwrap(),
            ClientAuth::Want
        );
        assert!(client_auth(&props(&[("ssl.clientAuth", "maybe")])).is_err());
        assert!(trust_store(&props(&[]), ClientAuth::Need).is_err());
    }
}
