//! TLS for the HTTP client: the rustls client configuration (system bundle plus the config's
//! `certificateAuthorities`), a certificate verifier that also accepts a pinned self-signed
//! server certificate marked `CA:TRUE` (as Go's crypto/x509 does), and the ureq connector that
//! wraps a transport in that TLS.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{Read, Write};
use std::sync::Arc;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

/// Verifies server certificates with webpki, plus one case webpki refuses and Go accepts: the
/// presented end-entity certificate is byte-identical to one of the config's own trusted
/// certificates and is marked `CA:TRUE` (what `openssl req -x509` makes by default since
/// OpenSSL 3). Operators pin such a self-signed server certificate by listing it in
/// `certificateAuthorities`; Go's verifier takes a leaf found in the root pool as a chain of
/// its own. Validity period, host name and extended key usage are still checked; nothing else
/// is relaxed (an unlisted CA:TRUE certificate, or a chain through one, is refused as before).
#[derive(Debug)]
pub(crate) struct Verifier {
    /// None when there is no trust anchor at all (an initrd without a CA bundle and a config
    /// listing none): plain http must still work, and every https server is refused.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    pinned: Vec<CertificateDer<'static>>,
    algs: rustls::crypto::WebPkiSupportedAlgorithms,
}

/// The webpki error behind a rustls "other" certificate error, if it is CaUsedAsEndEntity.
fn is_ca_used_as_end_entity(e: &rustls::Error) -> bool {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(o)) => matches!(
            o.0.downcast_ref::<webpki::Error>(),
            Some(webpki::Error::CaUsedAsEndEntity)
        ),
        _ => false,
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Err(rustls::Error::General(
                "no trusted CA certificates: the system has no CA bundle and the config lists \
                 none in ignition.security.tls.certificateAuthorities"
                    .into(),
            ));
        };
        let err = match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !is_ca_used_as_end_entity(&err) {
            return Err(err);
        }
        if !self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            return Err(rustls::Error::General(
                "the server presents a CA certificate (CA:TRUE) as its own, and that certificate \
                 is not itself listed in ignition.security.tls.certificateAuthorities (list it \
                 there to pin it)"
                    .into(),
            ));
        }
        // webpki checks the validity period before the basic constraints, so reaching
        // CaUsedAsEndEntity means the certificate is within its validity period. What it has
        // not checked yet: the name and the extended key usage.
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        if !der::eku_allows_server_auth(end_entity.as_ref()) {
            return Err(CertificateError::InvalidPurpose.into());
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// The client configuration: `roots` are trusted as anchors, `pinned` (the config's own
/// certificates) may also be presented as a CA:TRUE self-signed server certificate.
pub(crate) fn client_config(
    roots: &[CertificateDer<'static>],
    pinned: Vec<CertificateDer<'static>>,
) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(roots.iter().cloned());
    let algs = provider.signature_verification_algorithms;
    let webpki = if store.is_empty() {
        None
    } else {
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                .build()
                .map_err(|e| format!("no usable trusted certificates: {e}"))?,
        )
    };
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier {
            webpki,
            pinned,
            algs,
        }))
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// Wraps the chained transport in TLS for `https` URLs, with our verifier.
#[derive(Debug)]
pub(crate) struct TlsConnector(pub Arc<ClientConfig>);

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .host()
            .ok_or(ureq::Error::Tls("URL without a host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| ureq::Error::Tls("invalid TLS server name"))?;
        let mut conn = ClientConnection::new(self.0.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock).map_err(handshake_error)?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        })))
    }
}

/// A handshake failure from rustls (a certificate refused, a protocol error) becomes
/// `ureq::Error::Rustls` so that it is seen as final, not as a connection error to retry.
fn handshake_error(e: std::io::Error) -> ureq::Error {
    if let Some(r) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return ureq::Error::Rustls(r.clone());
    }
    ureq::Error::from(e)
}

pub(crate) struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let out = &self.buffers.output()[..amount];
        self.stream.write_all(out)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let n = self.stream.read(input)?;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// Just enough DER to read a certificate's extended key usage.
mod der {
    /// One TLV: (tag, contents, rest).
    fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, b) = b.split_first()?;
        let (&l0, mut b) = b.split_first()?;
        let len = if l0 < 0x80 {
            usize::from(l0)
        } else {
            let n = usize::from(l0 & 0x7f);
            if n == 0 || n > 4 || b.len() < n {
                return None;
            }
            let len = b[..n]
                .iter()
                .fold(0usize, |a, &x| (a << 8) | usize::from(x));
            b = &b[n..];
            len
        };
        (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
    }

    const SEQUENCE: u8 = 0x30;
    const OID: u8 = 0x06;
    const EXTENSIONS: u8 = 0xa3;
    /// 2.5.29.37, extKeyUsage.
    const EKU: &[u8] = &[0x55, 0x1d, 0x25];
    /// 1.3.6.1.5.5.7.3.1, serverAuth.
    const SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
    /// 2.5.29.37.0, anyExtendedKeyUsage.
    const ANY: &[u8] = &[0x55, 0x1d, 0x25, 0x00];

    /// True when the certificate has no extended key usage, or one that allows serverAuth or
    /// any usage (Go's rule for a server's leaf). Unparsable input is false.
    pub fn eku_allows_server_auth(cert: &[u8]) -> bool {
        eku(cert).unwrap_or(Some(false)).unwrap_or(true)
    }

    /// None: unparsable; Some(None): no EKU; Some(Some(ok)).
    fn eku(cert: &[u8]) -> Option<Option<bool>> {
        let (SEQUENCE, cert, _) = tlv(cert)? else {
            return None;
        };
        let (SEQUENCE, mut tbs, _) = tlv(cert)? else {
            return None;
        };
        while !tbs.is_empty() {
            let (tag, body, rest) = tlv(tbs)?;
            tbs = rest;
            if tag != EXTENSIONS {
                continue;
            }
            let (SEQUENCE, mut exts, _) = tlv(body)? else {
                return None;
            };
            while !exts.is_empty() {
                let (SEQUENCE, ext, rest) = tlv(exts)? else {
                    return None;
                };
                exts = rest;
                let (OID, oid, mut ext) = tlv(ext)? else {
                    return None;
                };
                if oid != EKU {
                    continue;
                }
                // Optional `critical` BOOLEAN, then the OCTET STRING holding a SEQUENCE of OIDs.
                let (mut tag, mut val, r) = tlv(ext)?;
                if tag == 0x01 {
                    (tag, val, _) = tlv(r)?;
                }
                ext = val;
                if tag != 0x04 {
                    return None;
                }
                let (SEQUENCE, mut purposes, _) = tlv(ext)? else {
                    return None;
                };
                while !purposes.is_empty() {
                    let (OID, p, rest) = tlv(purposes)? else {
                        return None;
                    };
                    purposes = rest;
                    if p == SERVER_AUTH || p == ANY {
                        return Some(Some(true));
                    }
                }
                return Some(Some(false));
            }
        }
        Some(None)
    }
}

#[cfg(test)]
mod tests {
    use super::der::eku_allows_server_auth;

    fn cert(ekus: Vec<rcgen::ExtendedKeyUsagePurpose>) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        p.extended_key_usages = ekus;
        p.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn extended_key_usage() {
        use rcgen::ExtendedKeyUsagePurpose::*;
        assert!(eku_allows_server_auth(&cert(vec![])));
        assert!(eku_allows_server_auth(&cert(vec![ClientAuth, ServerAuth])));
        assert!(eku_allows_server_auth(&cert(vec![Any])));
        assert!(!eku_allows_server_auth(&cert(vec![ClientAuth])));
        assert!(!eku_allows_server_auth(b"\x30\x03\x02\x01"));
    }
}
