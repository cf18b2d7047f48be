//! Azure's WireServer (the fabric endpoint at 168.63.129.16): the protocol version check, the
//! goal state, and the "ready" health report an Azure or Azure Stack VM owes the platform
//! after boot (without it Azure marks the VM failed); plus Azure Stack's metadata, which has
//! the version check in front of IMDS's `identity` document. The XML is small and fixed, read
//! with a tag scanner rather than a parser crate.

use super::metadata::Service;
use super::Env;
use crate::afterburn::Metadata;
use crate::error::{Error, Result};

/// The fabric address Azure documents (the DHCP option 245 that may name another is not
/// read; Azure and Azure Stack hand out this one).
const WIRESERVER: &str = "http://168.63.129.16";
const IMDS: &str = "http://169.254.169.254";
/// The wire protocol version spoken here.
const VERSION: &str = "2012-11-30";
const AGENT: &str = "ignis";
/// The health report is retried this many times on failure (the fabric may not be ready yet).
const REPORT_ATTEMPTS: u32 = 6;

fn wireserver<'a>(env: &Env<'a>) -> Service<'a> {
    Service::new(env, WIRESERVER)
        .header("x-ms-agent-name", AGENT)
        .header("x-ms-version", VERSION)
}

/// The text of the first `<tag>...</tag>` in `xml` (no attributes on the tag), trimmed.
fn tag<'x>(xml: &'x str, name: &str) -> Option<&'x str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(xml[start..end].trim())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The WireServer must list our protocol version among the supported ones.
fn check_version(svc: &Service) -> Result<()> {
    let v = svc
        .text("?comp=versions")?
        .ok_or_else(|| Error::failed("WireServer: no versions document"))?;
    let supported = tag(&v, "Supported").unwrap_or_default();
    if supported
        .split("<Version>")
        .skip(1)
        .filter_map(|s| s.split("</Version>").next())
        .any(|s| s.trim() == VERSION)
    {
        Ok(())
    } else {
        Err(Error::failed(format!(
            "WireServer does not support protocol version {VERSION}"
        )))
    }
}

/// What the health report needs from the goal state.
#[derive(Debug, PartialEq, Eq)]
struct GoalState {
    incarnation: String,
    container_id: String,
    instance_id: String,
}

fn goal_state(svc: &Service) -> Result<GoalState> {
    let doc = svc
        .text("machine/?comp=goalstate")?
        .ok_or_else(|| Error::failed("WireServer: no goal state"))?;
    let need = |xml: &str, name: &str| {
        tag(xml, name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| Error::failed(format!("WireServer goal state: no {name}")))
    };
    let container = tag(&doc, "Container").unwrap_or_default();
    let role = tag(container, "RoleInstance").unwrap_or_default();
    Ok(GoalState {
        incarnation: need(&doc, "Incarnation")?,
        container_id: need(container, "ContainerId")?,
        instance_id: need(role, "InstanceId")?,
    })
}

fn health_report(g: &GoalState) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <Health xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\n\
         <GoalStateIncarnation>{}</GoalStateIncarnation>\n\
         <Container><ContainerId>{}</ContainerId><RoleInstanceList><Role>\
         <InstanceId>{}</InstanceId><Health><State>Ready</State></Health>\
         </Role></RoleInstanceList></Container>\n\
         </Health>\n",
        escape(&g.incarnation),
        escape(&g.container_id),
        escape(&g.instance_id)
    )
}

/// Azure's boot check-in: version check, goal state, then `POST machine/?comp=health` with
/// the "Ready" report; the whole sequence is retried a few times (a fresh goal state each
/// time, as the incarnation may move on).
pub fn report_ready(env: &Env) -> Result<()> {
    let svc = wireserver(env);
    let mut last = None;
    for attempt in 0..REPORT_ATTEMPTS {
        if attempt > 0 {
            log::warn!(
                "azure: ready report failed; retrying (attempt {})",
                attempt + 1
            );
            std::thread::sleep(std::time::Duration::from_secs(1 << attempt.min(4)));
        }
        let once = || -> Result<()> {
            check_version(&svc)?;
            let g = goal_state(&svc)?;
            let body = health_report(&g);
            svc.post(
                "machine/?comp=health",
                "text/xml; charset=utf-8",
                body.as_bytes(),
            )?;
            log::info!(
                "azure: reported ready to the WireServer (incarnation {})",
                g.incarnation
            );
            Ok(())
        };
        match once() {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .unwrap_or_else(|| Error::failed("azure: ready report failed"))
        .context("azure: reporting ready to the WireServer"))
}

/// Azure Stack: after the WireServer's version check, the VM name from IMDS's `identity`
/// document as hostname. SSH keys travel in the goal state's certificate bundle (PKCS#7
/// wrapped for a key the agent makes up): not read, see docs/afterburn.md.
pub fn azurestack_metadata(env: &Env) -> Result<Metadata> {
    check_version(&wireserver(env))?;
    let doc = Service::new(env, IMDS)
        .header("Metadata", "true")
        .required_json("Microsoft.Compute/identity?api-version=2019-03-11")?;
    Ok(Metadata {
        hostname: doc.get("vmName").and_then(super::cloudinit::text),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{fixture, Bench, Reply, Request, Server};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn fabric(health_fails: usize) -> (Server, Arc<AtomicUsize>) {
        let fails = Arc::new(AtomicUsize::new(health_fails));
        let f = fails.clone();
        let s = Server::start(move |r: &Request| {
            if r.header("x-ms-version") != Some(VERSION) && r.target.contains("comp=") {
                return Reply::status(400);
            }
            match (r.method.as_str(), r.target.as_str()) {
                ("GET", "/?comp=versions") => Reply::ok(fixture("azure/wireserver/versions.xml")),
                ("GET", "/machine/?comp=goalstate") => {
                    Reply::ok(fixture("azure/wireserver/goalstate.xml"))
                }
                ("POST", "/machine/?comp=health") => {
                    if f.load(Ordering::SeqCst) > 0 {
                        f.fetch_sub(1, Ordering::SeqCst);
                        return Reply::status(503);
                    }
                    Reply::ok("")
                }
                ("GET", "/Microsoft.Compute/identity?api-version=2019-03-11")
                    if r.header("metadata") == Some("true") =>
                {
                    Reply::ok(r#"{"vmName": "nestos-stack", "subscriptionId": "s-1"}"#)
                }
                _ => Reply::status(404),
            }
        });
        (s, fails)
    }

    #[test]
    fn azure_check_in_reports_ready() {
        let (s, _) = fabric(0);
        let b = Bench::new();
        report_ready(&b.env(Some(&s.base))).unwrap();
        let reqs = s.requests();
        let post = reqs.iter().find(|r| r.method == "POST").unwrap();
        assert_eq!(post.target, "/machine/?comp=health");
        assert_eq!(post.header("content-type"), Some("text/xml; charset=utf-8"));
        assert_eq!(post.header("x-ms-agent-name"), Some(AGENT));
        let body = String::from_utf8(post.body.clone()).unwrap();
        assert_eq!(tag(&body, "GoalStateIncarnation"), Some("3"));
        assert_eq!(
            tag(&body, "ContainerId"),
            Some("7d1f0a3e-2b4c-4d5e-8f60-718293a4b5c6")
        );
        assert_eq!(
            tag(&body, "InstanceId"),
            Some("896e3f1a-0b2c-4d5e-9f60-a1b2c3d4e5f6._nestos-az")
        );
        assert_eq!(tag(&body, "State"), Some("Ready"));
    }

    #[test]
    fn azure_check_in_retries_then_fails_clearly() {
        let (s, _) = fabric(1);
        let b = Bench::new();
        report_ready(&b.env(Some(&s.base))).unwrap();
        let posts = s.requests().iter().filter(|r| r.method == "POST").count();
        assert_eq!(posts, 2);
        // A WireServer without our version is refused before any report.
        let s = Server::start(|r: &Request| match r.target.as_str() {
            "/?comp=versions" => Reply::ok(
                "<Versions><Preferred><Version>2015-04-05</Version></Preferred>\
                 <Supported><Version>2015-04-05</Version></Supported></Versions>",
            ),
            _ => Reply::status(404),
        });
        let e = check_version(&wireserver(&b.env(Some(&s.base)))).unwrap_err();
        assert!(e.to_string().contains(VERSION), "{e}");
    }

    #[test]
    fn azurestack_hostname_from_identity() {
        let (s, _) = fabric(0);
        let b = Bench::new();
        let md = azurestack_metadata(&b.env(Some(&s.base))).unwrap();
        assert_eq!(md.hostname.as_deref(), Some("nestos-stack"));
        assert!(md.ssh_keys.is_empty());
        let targets: Vec<String> = s.requests().into_iter().map(|r| r.target).collect();
        assert_eq!(targets[0], "/?comp=versions", "version check first");
    }

    #[test]
    fn goal_state_without_instance_is_an_error() {
        let s = Server::start(|_: &Request| {
            Reply::ok("<GoalState><Incarnation>1</Incarnation><Container><ContainerId>c</ContainerId></Container></GoalState>")
        });
        let b = Bench::new();
        let e = goal_state(&wireserver(&b.env(Some(&s.base)))).unwrap_err();
        assert!(e.to_string().contains("InstanceId"), "{e}");
    }
}
