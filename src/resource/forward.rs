//! Plain `http://` through a proxy the way Go (and so Ignition) does it: the request goes to
//! the proxy in absolute form (`GET http://host/path HTTP/1.1`), never as a CONNECT tunnel,
//! which many proxies refuse for port 80 (Squid's default). ureq only tunnels, so this module
//! gives it a resolver that answers with the proxy's addresses and a transport that rewrites
//! the request line of the one request sent on each connection (pooling is off for these
//! agents, so every request starts a connection of its own). The proxy's address goes through
//! the reroute table like any other (`reroute.rs`).

use super::reroute::{self, Reroutes};
use std::sync::Arc;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};

/// Resolves every request's host to the proxy: the TCP connector then connects to the proxy.
#[derive(Debug)]
pub(crate) struct ToProxy {
    pub proxy: Uri,
    pub inner: reroute::Resolve,
}

impl Resolver for ToProxy {
    fn resolve(
        &self,
        _uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        self.inner.resolve(&self.proxy, config, timeout)
    }
}

/// Wraps the TCP transport to the proxy so that the request line names the full URL.
#[derive(Debug)]
pub(crate) struct AbsoluteForm;

impl<In: Transport> Connector<In> for AbsoluteForm {
    type Out = Rewriting;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(inner) = chained else {
            return Ok(None);
        };
        let uri = details.uri;
        let authority = uri
            .authority()
            .ok_or(ureq::Error::BadUri("URL without a host".into()))?;
        Ok(Some(Rewriting {
            inner: Box::new(inner),
            buffers: LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
            prefix: Some(format!("http://{authority}")),
        }))
    }
}

pub(crate) struct Rewriting {
    inner: Box<dyn Transport>,
    buffers: LazyBuffers,
    /// `http://host[:port]`, put before the origin-form target of the first request line;
    /// None once it has been sent.
    prefix: Option<String>,
}

impl std::fmt::Debug for Rewriting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AbsoluteForm")
    }
}

/// `METHOD /path HTTP/1.1...` becomes `METHOD {prefix}/path HTTP/1.1...`.
pub(crate) fn absolute(data: &[u8], prefix: &str) -> Vec<u8> {
    match data.iter().position(|&b| b == b' ') {
        Some(i) if data.get(i + 1) == Some(&b'/') => {
            let mut v = Vec::with_capacity(data.len() + prefix.len());
            v.extend_from_slice(&data[..=i]);
            v.extend_from_slice(prefix.as_bytes());
            v.extend_from_slice(&data[i + 1..]);
            v
        }
        _ => data.to_vec(),
    }
}

impl Transport for Rewriting {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let out = &self.buffers.output()[..amount];
        let data = match self.prefix.take() {
            Some(p) => absolute(out, &p),
            None => out.to_vec(),
        };
        let mut rest = &data[..];
        while !rest.is_empty() {
            let buf = self.inner.buffers().output();
            let n = buf.len().min(rest.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.inner.transmit_output(n, timeout)?;
            rest = &rest[n..];
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        if self.inner.buffers().input().is_empty() && !self.inner.await_input(timeout)? {
            return Ok(false);
        }
        let src = self.inner.buffers().input();
        let dst = self.buffers.input_append_buf();
        let n = src.len().min(dst.len());
        dst[..n].copy_from_slice(&src[..n]);
        self.buffers.input_appended(n);
        self.inner.buffers().input_consume(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }
}

/// The resolver for an agent whose plain-http requests go to `proxy` in absolute form.
pub(crate) fn resolver(proxy: &str, reroutes: Arc<Reroutes>) -> Result<ToProxy, String> {
    let proxy: Uri = proxy
        .parse()
        .map_err(|e| format!("invalid proxy {proxy}: {e}"))?;
    Ok(ToProxy {
        proxy,
        inner: reroute::Resolve::new(reroutes),
    })
}

#[cfg(test)]
mod tests {
    use super::absolute;

    #[test]
    fn request_line_in_absolute_form() {
        assert_eq!(
            absolute(b"GET /a?b HTTP/1.1\r\nHost: h\r\n\r\n", "http://h:8080"),
            b"GET http://h:8080/a?b HTTP/1.1\r\nHost: h\r\n\r\n"
        );
        assert_eq!(absolute(b"garbage", "http://h"), b"garbage");
    }
}
