//! Google Cloud: the `user-data` instance attribute from the metadata server, which answers
//! only requests carrying `Metadata-Flavor: Google`. 404 means no user data.

use super::util::{self, Http};
use super::Env;
use crate::error::Result;

const BASE: &str = "http://169.254.169.254";
const PATH: &str = "computeMetadata/v1/instance/attributes/user-data";

pub fn fetch_config(env: &Env) -> Result<Option<Vec<u8>>> {
    let url = util::join(env.base(BASE), PATH);
    log::info!("gcp: fetching user data from {url}");
    Http::new(env).get_user_data(&url, &[("Metadata-Flavor", "Google")], &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::providers::testserver::{fixture, Bench, Reply, Request, Server};

    fn server(present: bool) -> Server {
        Server::start(move |r: &Request| {
            if r.header("Metadata-Flavor") != Some("Google") {
                return Reply::status(403);
            }
            match (r.target.as_str(), present) {
                ("/computeMetadata/v1/instance/attributes/user-data", true) => {
                    Reply::ok(fixture("gcp/user-data"))
                }
                _ => Reply::status(404),
            }
        })
    }

    #[test]
    fn fetches_with_flavor_header() {
        let s = server(true);
        let b = Bench::new();
        assert_eq!(
            fetch_config(&b.env(Some(&s.base))).unwrap(),
            Some(fixture("gcp/user-data"))
        );
    }

    #[test]
    fn missing_attribute_is_no_config() {
        let s = server(false);
        let b = Bench::new();
        assert_eq!(fetch_config(&b.env(Some(&s.base))).unwrap(), None);
    }

    #[test]
    fn offline_needs_net() {
        let b = Bench::new();
        let e = fetch_config(&b.offline_env(None)).unwrap_err();
        assert_eq!(e.kind(), Kind::NeedNet);
    }
}
