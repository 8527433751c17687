//! Resource addresses: `module.serving["eu"].gpu_pool.h100[0]`.

use std::fmt;

use mlinfra_schema::is_identifier;

/// The key of one instance of a resource or module with `count` or `for_each`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InstanceKey {
    Index(usize),
    Key(String),
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::Index(i) => write!(f, "[{i}]"),
            InstanceKey::Key(k) => write!(f, "[{}]", serde_json::Value::String(k.clone())),
        }
    }
}

/// One step of a module path: `module.NAME[KEY]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleStep {
    pub name: String,
    pub key: Option<InstanceKey>,
}

/// The address of one resource instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    pub module: Vec<ModuleStep>,
    pub kind: String,
    pub name: String,
    pub key: Option<InstanceKey>,
}

impl Address {
    /// The address without its instance key (`gpu_pool.h100` for `gpu_pool.h100[0]`).
    pub fn resource(&self) -> Address {
        Address {
            key: None,
            ..self.clone()
        }
    }

    /// Whether `self` is `target` or one of its instances, or lies inside target module path.
    pub fn matches(&self, target: &Address) -> bool {
        if self.module != target.module {
            return false;
        }
        self.kind == target.kind
            && self.name == target.name
            && (target.key.is_none() || self.key == target.key)
    }

    /// Whether `self` lies inside the module a target names (`module.NAME` or
    /// `module.NAME["key"]`, parsed with [`Address::parse_target`]).
    pub fn in_module(&self, target: &Address) -> bool {
        if target.kind != "module" {
            return false;
        }
        let depth = target.module.len();
        self.module.len() > depth
            && self.module[..depth] == target.module[..]
            && self.module[depth].name == target.name
            && (target.key.is_none() || self.module[depth].key == target.key)
    }

    /// Parse a `--target`: a resource address, or a module path alone (`module.serving`),
    /// which becomes kind `module` with the last step as its name and key.
    pub fn parse_target(s: &str) -> Result<Address, String> {
        match Address::parse(s) {
            Ok(a) => Ok(a),
            Err(e) => match Address::parse(&format!("{s}.target_.x")) {
                Ok(mut a) if a.kind == "target_" && !a.module.is_empty() => {
                    let last = a.module.pop().unwrap_or(ModuleStep {
                        name: String::new(),
                        key: None,
                    });
                    a.kind = "module".into();
                    a.name = last.name;
                    a.key = last.key;
                    Ok(a)
                }
                _ => Err(e),
            },
        }
    }

    /// Parse a user-written address; errors say what was expected.
    pub fn parse(s: &str) -> Result<Address, String> {
        let mut p = Parser { s, pos: 0 };
        let mut module = Vec::new();
        loop {
            let ident = p.ident()?;
            if ident == "module" {
                p.expect('.')?;
                let name = p.ident()?;
                let key = p.key()?;
                module.push(ModuleStep { name, key });
                p.expect('.')?;
                continue;
            }
            p.expect('.')?;
            let name = p.ident()?;
            let key = p.key()?;
            if p.pos != s.len() {
                return Err(format!("unexpected \"{}\" after the address", &s[p.pos..]));
            }
            return Ok(Address {
                module,
                kind: ident,
                name,
                key,
            });
        }
    }
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn ident(&mut self) -> Result<String, String> {
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '-'))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(format!(
                "expected a name at \"{}\" (an address looks like kind.name, kind.name[0], kind.name[\"key\"] or module.NAME.kind.name)",
                rest
            ));
        }
        self.pos += len;
        Ok(rest[..len].to_string())
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            Ok(())
        } else {
            Err(format!(
                "expected '{c}' at \"{}\" (an address looks like kind.name or module.NAME.kind.name)",
                self.rest()
            ))
        }
    }

    fn key(&mut self) -> Result<Option<InstanceKey>, String> {
        if !self.rest().starts_with('[') {
            return Ok(None);
        }
        self.pos += 1;
        let rest = self.rest();
        // A quoted key may itself contain ']': find the closing quote first.
        let search_from = if rest.starts_with('"') {
            let mut escaped = false;
            rest.char_indices()
                .skip(1)
                .find(|(_, c)| {
                    let end = *c == '"' && !escaped;
                    escaped = *c == '\\' && !escaped;
                    end
                })
                .map(|(i, _)| i)
                .unwrap_or(0)
        } else {
            0
        };
        let close = rest[search_from..]
            .find(']')
            .map(|i| i + search_from)
            .ok_or_else(|| "an instance key is missing its closing ']'".to_string())?;
        let inner = &rest[..close];
        self.pos += close + 1;
        if let Ok(i) = inner.parse::<usize>() {
            return Ok(Some(InstanceKey::Index(i)));
        }
        match serde_json::from_str::<String>(inner) {
            Ok(k) => Ok(Some(InstanceKey::Key(k))),
            Err(_) => Err(format!(
                "instance key [{inner}] must be a number or a quoted string, like [0] or [\"eu\"]"
            )),
        }
    }
}

impl fmt::Display for ModuleStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "module.{}", self.name)?;
        if let Some(k) = &self.key {
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.module {
            write!(f, "{m}.")?;
        }
        write!(f, "{}.{}", self.kind, self.name)?;
        if let Some(k) = &self.key {
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

/// Display a module path (`module.a["x"].module.b`), empty for the root.
pub fn module_path_string(path: &[ModuleStep]) -> String {
    path.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Render a map key the way an address or expression would (`eu` or `"eu-west"`).
pub fn key_literal(k: &str) -> String {
    if is_identifier(k) {
        k.to_string()
    } else {
        serde_json::Value::String(k.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_display() {
        for s in [
            "gpu_pool.h100",
            "gpu_pool.h100[0]",
            "bucket.data[\"eu-west\"]",
            "module.serving[\"eu\"].endpoint.fraud-scorer",
            "module.a.module.b[2].bucket.x",
            "bucket.x[\"a]b\"]",
        ] {
            assert_eq!(Address::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed_addresses_with_a_reason() {
        assert!(Address::parse("gpu_pool")
            .unwrap_err()
            .contains("expected '.'"));
        assert!(Address::parse("gpu_pool.x[abc]")
            .unwrap_err()
            .contains("quoted string"));
        assert!(Address::parse("gpu_pool.x y")
            .unwrap_err()
            .contains("unexpected"));
    }

    #[test]
    fn module_targets_match_what_is_inside() {
        let t = Address::parse_target("module.serving").unwrap();
        assert!(Address::parse("module.serving[\"eu\"].endpoint.e")
            .unwrap()
            .in_module(&t));
        assert!(!Address::parse("endpoint.e").unwrap().in_module(&t));
        let t = Address::parse_target("module.serving[\"us\"]").unwrap();
        assert!(!Address::parse("module.serving[\"eu\"].endpoint.e")
            .unwrap()
            .in_module(&t));
    }

    #[test]
    fn a_resource_address_matches_its_instances() {
        let target = Address::parse("gpu_pool.h100").unwrap();
        assert!(Address::parse("gpu_pool.h100[3]").unwrap().matches(&target));
        assert!(!Address::parse("gpu_pool.h10").unwrap().matches(&target));
    }
}
