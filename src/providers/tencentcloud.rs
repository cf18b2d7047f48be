//! Tencent Cloud: user data from the EC2-style metadata service at metadata.tencentyun.com
//! (neither Ignition nor Afterburn has this platform; the paths follow cloud-init's datasource).
//! 404 means no user data.

use super::util::{self, Http};
use super::Env;
use crate::error::Result;

const BASE: &str = "http://metadata.tencentyun.com";
const PATH: &str = "latest/user-data";

pub fn fetch_config(env: &Env) -> Result<Option<Vec<u8>>> {
    let url = util::join(env.base(BASE), PATH);
    log::info!("tencentcloud: fetching user data from {url}");
    Http::new(env).get_user_data(&url, &[], &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::providers::testserver::{fixture, Bench, Reply, Request, Server};

    #[test]
    fn fetches_user_data() {
        let s = Server::start(|r: &Request| match (r.method.as_str(), r.target.as_str()) {
            ("GET", "/latest/user-data") => Reply::ok(fixture("tencentcloud/user-data")),
            _ => Reply::status(404),
        });
        let b = Bench::new();
        assert_eq!(
            fetch_config(&b.env(Some(&s.base))).unwrap(),
            Some(fixture("tencentcloud/user-data"))
        );
    }

    #[test]
    fn no_user_data_is_no_config() {
        let s = Server::start(|_: &Request| Reply::status(404));
        let b = Bench::new();
        assert_eq!(fetch_config(&b.env(Some(&s.base))).unwrap(), None);
    }

    #[test]
    fn offline_needs_net() {
        let b = Bench::new();
        assert_eq!(
            fetch_config(&b.offline_env(None)).unwrap_err().kind(),
            Kind::NeedNet
        );
    }
}
