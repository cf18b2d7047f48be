//! The providers' contract, one table per side (cfg(test) only): for each platform, the origin
//! its metadata service must be asked at (only that origin is rerouted to the test server, so
//! a request anywhere else fails), the token and headers the service requires, what it serves,
//! and what ignis must make of it. User data: served means the config, absent means none,
//! offline means "needs the network". Metadata: hostname, attributes (as written, addresses
//! normalised), SSH keys. What is particular to one provider (retry codes, fallbacks, races,
//! malformed answers) stays in its module's tests.

use super::metadata::metadata_for_id;
use super::testserver::{fixture, tree_reply, Bench, Reply, Request, Server};
use super::{fetch_config, Platform};
use crate::error::Kind;

/// The session token the test services hand out.
const TOKEN: &str = "tok";

/// A token endpoint: `PUT <path>` answers `TOKEN`, and every GET must then carry it in
/// `header`.
#[derive(Clone, Copy)]
struct Token {
    path: &'static str,
    header: &'static str,
}

const AWS_TOKEN: Option<Token> = Some(Token {
    path: "/latest/api/token",
    header: "X-aws-ec2-metadata-token",
});
const ALIYUN_TOKEN: Option<Token> = Some(Token {
    path: "/latest/api/token",
    header: "X-aliyun-ecs-metadata-token",
});
const AKAMAI_TOKEN: Option<Token> = Some(Token {
    path: "/v1/token",
    header: "Metadata-Token",
});

const LINK_LOCAL: &str = "http://169.254.169.254";

/// What a test service serves.
#[derive(Clone, Copy)]
enum Served<'a> {
    /// A fixture tree under `platforms/`, by URL path (`testserver::tree_reply`).
    Tree(&'static str),
    /// Exact request targets (path and query) and their fixture files ("" is an empty body).
    Files(&'a [(&'static str, &'static str)]),
}

/// A metadata service as a platform runs it.
#[derive(Clone, Copy)]
struct Service<'a> {
    token: Option<Token>,
    /// Headers every GET must carry.
    headers: &'static [(&'static str, &'static str)],
    served: Served<'a>,
}

impl Service<'_> {
    /// Starts it: a GET without the token is 401, without a required header 403; anything
    /// not served is 404 (a token endpoint the service lacks too, as IMDSv1 answers).
    fn start(self) -> Server {
        let (token, headers) = (self.token, self.headers);
        let (tree, files) = match self.served {
            Served::Tree(dir) => (Some(dir), Vec::new()),
            Served::Files(f) => (None, f.to_vec()),
        };
        Server::start(move |r: &Request| {
            if let Some(t) = token {
                if r.method == "PUT" && r.target == t.path {
                    return Reply::ok(TOKEN);
                }
            }
            if r.method != "GET" {
                return Reply::status(404);
            }
            if let Some(t) = token {
                if r.header(t.header) != Some(TOKEN) {
                    return Reply::status(401);
                }
            }
            if headers.iter().any(|(k, v)| r.header(k) != Some(v)) {
                return Reply::status(403);
            }
            if let Some(dir) = tree {
                return tree_reply(dir, &r.target);
            }
            match files.iter().find(|(t, _)| *t == r.target) {
                Some((_, "")) => Reply::ok(""),
                Some((_, file)) => Reply::ok(fixture(file)),
                None => Reply::status(404),
            }
        })
    }
}

mod metadata;
mod user_data;
