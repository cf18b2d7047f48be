//! The `ignition` section and resources: config merge/replace sources, CAs, proxies, and the
//! URL, hash, header and compression rules every fetched resource follows.

use super::{msg, Validator};
use crate::report::JsonPath;
use crate::types::{Ignition, Resource};
use crate::url;
use crate::version::Version;

impl Validator {
    pub(super) fn ignition(&mut self, ig: &Ignition, p: &JsonPath) {
        let cp = p.key("config");
        for (i, m) in ig.config.merge.iter().enumerate() {
            let mp = cp.key("merge").idx(i);
            // 3.0.0's config references had no required source.
            if self.version >= Version::V3_1 {
                self.required_source(m, mp.clone());
            }
            self.resource(m, &mp);
        }
        self.dups(
            ig.config
                .merge
                .iter()
                .map(|m| m.source.as_deref().unwrap_or("")),
            &cp.key("merge"),
        );
        self.resource(&ig.config.replace, &cp.key("replace"));
        let tp = p.key("security").key("tls").key("certificateAuthorities");
        for (i, ca) in ig.security.tls.certificate_authorities.iter().enumerate() {
            if self.version >= Version::V3_1 {
                self.required_source(ca, tp.idx(i));
            } else if ca.source.is_none() {
                // 3.0.0's CA source was a plain string: missing reads as "", no scheme.
                self.err(tp.idx(i).key("source"), msg::INVALID_SCHEME);
            }
            self.resource(ca, &tp.idx(i));
        }
        self.dups(
            ig.security
                .tls
                .certificate_authorities
                .iter()
                .map(|m| m.source.as_deref().unwrap_or("")),
            &tp,
        );
        let pp = p.key("proxy");
        self.proxy_url(ig.proxy.http_proxy.as_deref(), pp.key("httpProxy"), true);
        self.proxy_url(ig.proxy.https_proxy.as_deref(), pp.key("httpsProxy"), false);
        self.dups(ig.proxy.no_proxy.iter(), &pp.key("noProxy"));
    }

    /// Merge children and CAs need a source, and a bad URL is reported at the entry too.
    pub(super) fn required_source(&mut self, r: &Resource, p: JsonPath) {
        match r.source.as_deref() {
            None | Some("") => self.err(p, msg::SOURCE_REQUIRED),
            Some(s) => {
                if let Some(m) = self.url_problem(s) {
                    self.err(p, m);
                }
            }
        }
    }

    pub(super) fn proxy_url(&mut self, s: Option<&str>, p: JsonPath, http_ok: bool) {
        let Some(s) = s else { return };
        match url::parse(s) {
            Err(_) => self.err(p, msg::INVALID_URL),
            Ok(u) if u.scheme != "http" && u.scheme != "https" => self.err(p, msg::INVALID_PROXY),
            Ok(u) if u.scheme == "http" && !http_ok => self.warn(p, msg::INSECURE_PROXY),
            Ok(_) => {}
        }
    }

    pub(super) fn resource(&mut self, res: &Resource, p: &JsonPath) {
        if let Some(c) = &res.compression {
            if !c.is_empty() && c != "gzip" {
                self.err(p.key("compression"), msg::COMPRESSION_INVALID);
            }
        }
        if let Some(h) = &res.verification.hash {
            let hp = p.key("verification").key("hash");
            if res.source.is_none() {
                self.err(hp.clone(), msg::VERIFICATION_NIL_SOURCE);
            }
            if let Some(m) = self.hash_problem(h) {
                self.err(hp, m);
            }
        }
        if let Some(s) = &res.source {
            if let Some(m) = self.url_problem(s) {
                self.err(p.key("source"), m);
            }
        }
        if !res.http_headers.is_empty() {
            let hp = p.key("httpHeaders");
            let scheme_ok = match res.source.as_deref() {
                None | Some("") => Err(msg::INVALID_URL),
                Some(s) => match url::parse(s) {
                    Err(_) => Err(msg::INVALID_URL),
                    Ok(u) if u.scheme == "http" || u.scheme == "https" => Ok(()),
                    Ok(_) => Err(msg::HEADERS_SCHEME),
                },
            };
            if let Err(m) = scheme_ok {
                self.err(hp.clone(), m);
            }
            for (i, h) in res.http_headers.iter().enumerate() {
                if h.name.is_empty() {
                    self.err(hp.idx(i).key("name"), msg::EMPTY_HEADER_NAME);
                }
                if h.value.as_deref() == Some("") {
                    self.err(hp.idx(i).key("value"), msg::EMPTY_HEADER_VALUE);
                }
            }
            self.dups(res.http_headers.iter().map(|h| h.name.as_str()), &hp);
        }
    }

    pub(super) fn hash_problem(&self, h: &str) -> Option<&'static str> {
        let Some((func, sum)) = h.split_once('-') else {
            return Some(msg::HASH_MALFORMED);
        };
        let size = match func {
            "sha512" => 64,
            "sha256" if self.version >= Version::V3_1 => 32,
            _ => return Some(msg::HASH_UNRECOGNIZED),
        };
        (sum.len() != size * 2).then_some(msg::HASH_WRONG_SIZE)
    }

    /// Ignition's `validateURL`: the schemes of the config's version, S3 version ids, ARNs,
    /// data URLs. An empty source is valid (an empty file).
    pub(super) fn url_problem(&self, s: &str) -> Option<String> {
        if s.is_empty() {
            return None;
        }
        let u = match url::parse(s) {
            Ok(u) => u,
            Err(_) => return Some(msg::INVALID_URL.into()),
        };
        match u.scheme.as_ref() {
            "http" | "https" | "tftp" => None,
            "gs" if self.version >= Version::V3_2 => None,
            "s3" => {
                let v = url::query_values(u.raw_query, "versionId");
                (!v.is_empty() && v[0].is_empty()).then(|| msg::INVALID_S3_VERSION.into())
            }
            "arn" if self.version >= Version::V3_4 => arn_problem(s, &u),
            "data" => url::check_data_url(s).err(),
            _ => Some(msg::INVALID_SCHEME.into()),
        }
    }
}

/// `arn:partition:s3:::bucket/key` or an access point, as Ignition accepts them.
pub(super) fn arn_problem(s: &str, u: &url::Url<'_>) -> Option<String> {
    let v = url::query_values(u.raw_query, "versionId");
    if !v.is_empty() && v[0].is_empty() {
        return Some(msg::INVALID_S3_VERSION.into());
    }
    url::parse_s3_arn(s).err().map(|_| msg::INVALID_ARN.into())
}
