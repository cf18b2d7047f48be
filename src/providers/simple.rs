//! Metadata services that serve user data with one plain GET: DigitalOcean, Hetzner, Exoscale,
//! Vultr, UpCloud, Scaleway and Packet (Equinix Metal). 404 or an empty body means no config.

use super::util::{self, Http};
use super::{Env, Platform};
use crate::error::{Error, Result};

const LINK_LOCAL: &str = "http://169.254.169.254";

/// The default base URL and the user-data path of a platform.
fn source(p: Platform) -> Option<(&'static str, &'static str)> {
    Some(match p {
        Platform::DigitalOcean => (LINK_LOCAL, "metadata/v1/user-data"),
        Platform::Hetzner => (LINK_LOCAL, "hetzner/v1/userdata"),
        Platform::Exoscale => (LINK_LOCAL, "1.0/user-data"),
        Platform::Vultr => (LINK_LOCAL, "user-data/user-data"),
        Platform::UpCloud => (LINK_LOCAL, "metadata/v1/user_data"),
        Platform::Scaleway => ("http://169.254.42.42", "user_data/cloud-init"),
        Platform::Packet => ("http://metadata.packet.net", "userdata"),
        _ => return None,
    })
}

pub fn fetch_config(env: &Env, p: Platform) -> Result<Option<Vec<u8>>> {
    let (base, path) = source(p)
        .ok_or_else(|| Error::failed(format!("{} has no plain metadata source", p.id())))?;
    let url = util::join(base, path);
    log::info!("{}: fetching user data from {url}", p.id());
    Http::new(env).get_user_data(&url, &[], &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{Bench, Reply, Request, Server};

    #[test]
    fn server_errors_are_retried_within_the_timeout() {
        let s = Server::start(|_: &Request| Reply::status(500));
        let mut b = Bench::new();
        // Long enough for a first answer and a retry on a loaded machine (at 700 ms the whole
        // budget could pass before the first 500 came back, and the error read "timed out").
        b.fetch_timeout = std::time::Duration::from_millis(2500);
        let e = fetch_config(&b.env(Some(&s.base)), Platform::Vultr).unwrap_err();
        assert!(e.to_string().contains("HTTP 500"), "{e}");
        assert!(s.requests().len() >= 2);
    }

    #[test]
    fn other_platforms_are_refused() {
        // The platforms served here are in the contract table (`contract_tests.rs`).
        let b = Bench::new();
        assert!(fetch_config(&b.env(None), Platform::Aws).is_err());
    }
}
