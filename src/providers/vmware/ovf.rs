//! The OVF environment document VMware hands over in `guestinfo.ovfEnv`: reads the `Property`
//! elements directly under the root's `PropertySection` children as `(key, value)` pairs, with
//! XML entities decoded, the way Ignition's `encoding/xml` mapping does (namespace prefixes
//! ignored, later duplicates win). A deliberately small XML reader: well-formedness of tags,
//! quotes and entities is checked, nothing else (no DTDs, no namespaces resolution).

/// The properties in document order. Errors describe the first malformed spot.
pub fn properties(doc: &str) -> Result<Vec<(String, String)>, String> {
    Ok(walk(doc)?.into_iter().map(|p| (p.key, p.value)).collect())
}

/// `doc` without the `Property` elements whose key is in `keys` (the ones `properties` would
/// read), or `None` when it has none of them. Everything else is kept byte for byte.
pub fn remove_properties(doc: &str, keys: &[&str]) -> Result<Option<String>, String> {
    let drop: Vec<Prop> = walk(doc)?
        .into_iter()
        .filter(|p| keys.contains(&p.key.as_str()))
        .collect();
    if drop.is_empty() {
        return Ok(None);
    }
    let mut out = String::with_capacity(doc.len());
    let mut at = 0;
    for p in drop {
        out.push_str(&doc[at..p.span.start]);
        at = p.span.end;
    }
    out.push_str(&doc[at..]);
    Ok(Some(out))
}

/// A property and where its element is in the document (bytes, end tag included).
struct Prop {
    key: String,
    value: String,
    span: std::ops::Range<usize>,
}

fn walk(doc: &str) -> Result<Vec<Prop>, String> {
    let mut props: Vec<Prop> = Vec::new();
    // Open elements; a Property being read carries the index of its entry in `props`, whose
    // span ends at its end tag.
    let mut stack: Vec<(&str, Option<usize>)> = Vec::new();
    let mut rest = doc.strip_prefix('\u{feff}').unwrap_or(doc);
    let pos = |rest: &str| doc.len() - rest.len();
    loop {
        let Some(lt) = rest.find('<') else {
            if let Some((open, _)) = stack.last() {
                return Err(format!("unexpected end of document inside <{open}>"));
            }
            return Err("no root element".into());
        };
        decode_entities(&rest[..lt]).map_err(|e| format!("in text: {e}"))?;
        rest = &rest[lt..];
        if let Some(r) = rest.strip_prefix("<?") {
            rest = after(r, "?>", "processing instruction")?;
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = after(r, "-->", "comment")?;
        } else if let Some(r) = rest.strip_prefix("<![CDATA[") {
            rest = after(r, "]]>", "CDATA section")?;
        } else if let Some(r) = rest.strip_prefix("<!") {
            rest = skip_declaration(r)?;
        } else if let Some(r) = rest.strip_prefix("</") {
            let end = r.find('>').ok_or("unterminated end tag")?;
            let name = r[..end].trim_end();
            match stack.pop() {
                Some((open, prop)) if open == name => {
                    if let Some(i) = prop {
                        props[i].span.end = pos(&r[end + 1..]);
                    }
                }
                Some((open, _)) => return Err(format!("</{name}> closes <{open}>")),
                None => return Err(format!("unexpected </{name}>")),
            }
            rest = &r[end + 1..];
            if stack.is_empty() {
                // Like Go's Unmarshal: nothing after the root element is read.
                return Ok(props);
            }
        } else {
            let start = pos(rest);
            let tag = parse_start_tag(&rest[1..])?;
            rest = tag.rest;
            let in_section = stack.len() == 2 && local(stack[1].0) == "PropertySection";
            let mut prop = None;
            if in_section && local(tag.name) == "Property" {
                let attr = |want: &str| {
                    tag.attrs
                        .iter()
                        .rev()
                        .find(|(n, _)| local(n) == want)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                prop = Some(props.len());
                props.push(Prop {
                    key: attr("key"),
                    value: attr("value"),
                    span: start..pos(rest),
                });
            }
            if !tag.empty {
                stack.push((tag.name, prop));
            } else if stack.is_empty() {
                return Ok(props);
            }
        }
    }
}

/// The value of `key`: the last property with that exact key, as in a map filled in order.
pub fn lookup<'a>(props: &'a [(String, String)], key: &str) -> Option<&'a str> {
    props
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn after<'a>(s: &'a str, end: &str, what: &str) -> Result<&'a str, String> {
    s.find(end)
        .map(|i| &s[i + end.len()..])
        .ok_or_else(|| format!("unterminated {what}"))
}

/// `<!DOCTYPE ...>` and friends, with a bracketed internal subset skipped whole.
fn skip_declaration(s: &str) -> Result<&str, String> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '>' if depth == 0 => return Ok(&s[i + 1..]),
            _ => {}
        }
    }
    Err("unterminated declaration".into())
}

struct StartTag<'a> {
    name: &'a str,
    attrs: Vec<(&'a str, String)>,
    empty: bool,
    rest: &'a str,
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.') || !c.is_ascii()
}

fn take_name(s: &str) -> (&str, &str) {
    let end = s.find(|c| !is_name_char(c)).unwrap_or(s.len());
    s.split_at(end)
}

/// Parses after the `<` of a start tag.
fn parse_start_tag(s: &str) -> Result<StartTag<'_>, String> {
    let (name, mut rest) = take_name(s);
    if name.is_empty() {
        return Err("malformed tag".into());
    }
    let mut attrs = Vec::new();
    loop {
        let trimmed = rest.trim_start();
        let had_space = trimmed.len() != rest.len();
        rest = trimmed;
        if let Some(r) = rest.strip_prefix("/>") {
            return Ok(StartTag {
                name,
                attrs,
                empty: true,
                rest: r,
            });
        }
        if let Some(r) = rest.strip_prefix('>') {
            return Ok(StartTag {
                name,
                attrs,
                empty: false,
                rest: r,
            });
        }
        let (attr, r) = take_name(rest);
        if attr.is_empty() || !had_space {
            return Err(format!("malformed attributes in <{name}>"));
        }
        let r = r
            .trim_start()
            .strip_prefix('=')
            .ok_or_else(|| format!("attribute {attr} in <{name}> has no value"))?
            .trim_start();
        let quote = r
            .chars()
            .next()
            .filter(|&q| q == '"' || q == '\'')
            .ok_or_else(|| format!("attribute {attr} in <{name}> is not quoted"))?;
        let r = &r[1..];
        let end = r
            .find(quote)
            .ok_or_else(|| format!("unterminated attribute {attr} in <{name}>"))?;
        let raw = &r[..end];
        if raw.contains('<') {
            return Err(format!("'<' in attribute {attr} of <{name}>"));
        }
        let value = decode_entities(raw).map_err(|e| format!("attribute {attr}: {e}"))?;
        attrs.push((attr, value));
        rest = &r[end + 1..];
    }
}

/// Decodes the five predefined entities and character references; line ends become `\n`.
pub fn decode_entities(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(['&', '\r']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix('\r') {
            out.push('\n');
            rest = r.strip_prefix('\n').unwrap_or(r);
            continue;
        }
        let end = rest
            .find(';')
            .filter(|&e| e <= 12)
            .ok_or("unterminated entity")?;
        let ent = &rest[1..end];
        let c = match ent {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = ent.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = ent.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| format!("invalid entity &{ent};"))?
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/platforms/vmware/ovf-env.xml"
    ));

    #[test]
    fn reads_the_fixture() {
        let p = properties(FIXTURE).unwrap();
        assert_eq!(
            lookup(&p, "guestinfo.ignition.config.data.encoding"),
            Some("base64")
        );
        assert_eq!(
            lookup(&p, "guestinfo.afterburn.initrd.network-kargs"),
            Some("ip=10.0.0.5::10.0.0.1:255.255.255.0:node1:ens192:off nameserver=10.0.0.1")
        );
        assert_eq!(
            lookup(&p, "guestinfo.note"),
            Some("<a & b> \"quoted\" 'single' é")
        );
        // Properties outside the root's PropertySection do not count.
        assert_eq!(lookup(&p, "guestinfo.nested"), None);
        assert!(lookup(&p, "guestinfo.ignition.config.data").is_some());
    }

    #[test]
    fn prefixes_duplicates_and_quotes() {
        let doc = "<?xml version='1.0'?><!-- c --><Environment><PropertySection>\
                   <Property key='a' value='1'/><x:Property x:key=\"a\" x:value=\"2\"></x:Property>\
                   <Property oe:key='b'/></PropertySection></Environment>trailing junk <";
        let p = properties(doc).unwrap();
        assert_eq!(lookup(&p, "a"), Some("2"));
        assert_eq!(lookup(&p, "b"), Some(""));
    }

    #[test]
    fn removes_only_the_named_properties() {
        let keys = [
            "guestinfo.ignition.config.data",
            "guestinfo.ignition.config.data.encoding",
        ];
        let out = remove_properties(FIXTURE, &keys).unwrap().unwrap();
        let p = properties(&out).unwrap();
        for k in keys {
            assert_eq!(lookup(&p, k), None, "{k}");
        }
        let before = properties(FIXTURE).unwrap();
        let kept: Vec<_> = before
            .iter()
            .filter(|(k, _)| !keys.contains(&k.as_str()))
            .cloned()
            .collect();
        assert_eq!(p, kept);
        // Nothing to remove: nothing to rewrite.
        assert_eq!(remove_properties(&out, &keys).unwrap(), None);
        // Both element forms, prefixes, and a Property outside the section left alone.
        let doc = concat!(
            "<Environment><PropertySection><Property key='k' value='1'/>\n ",
            "<oe:Property oe:key=\"k\" oe:value=\"2\"></oe:Property><Property key='x'/>",
            "</PropertySection><Other><Property key='k'/></Other></Environment>"
        );
        assert_eq!(
            remove_properties(doc, &["k"]).unwrap().unwrap(),
            concat!(
                "<Environment><PropertySection>\n <Property key='x'/>",
                "</PropertySection><Other><Property key='k'/></Other></Environment>"
            )
        );
        assert!(remove_properties("<Environment>", &["k"]).is_err());
    }

    #[test]
    fn entities_and_line_ends() {
        assert_eq!(
            decode_entities("&lt;&gt;&amp;&quot;&apos;&#65;&#x42;\r\nx\ry").unwrap(),
            "<>&\"'AB\nx\ny"
        );
        for bad in ["&nbsp;", "&#xZZ;", "& b", "&#55296;", "&lt"] {
            assert!(decode_entities(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in [
            "",
            "just text",
            "<Environment><PropertySection>",
            "<Environment></PropertySection>",
            "<Environment><PropertySection><Property key=a/></PropertySection></Environment>",
            "<Environment><PropertySection><Property key='a/></PropertySection></Environment>",
            "<Environment><PropertySection><Property key='&bogus;'/></PropertySection></Environment>",
            "<Environment><PropertySection><Property key='a'value='b'/></PropertySection></Environment>",
            "<Environment><!-- open",
            "<>",
        ] {
            assert!(properties(bad).is_err(), "{bad:?}");
        }
    }
}
