//! Usage files (`--usage FILE`): figures per resource address, in HCL or YAML.
//!
//! ```hcl
//! usage "gpu_pool.training[\"h100\"]" {
//!   average_nodes   = 4
//!   hours_per_month = 360
//! }
//! ```
//!
//! ```yaml
//! gpu_pool.training["h100"]:
//!   average_nodes: 4
//!   hours_per_month: 360
//! ```

use std::collections::BTreeMap;

use crate::estimate::UsageByAddress;

/// The usage keys each kind reads.
pub fn keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "gpu_pool" => &["average_nodes", "hours_per_month"],
        "endpoint" => &["average_instances", "hours_per_month"],
        "cluster" => &["hours_per_month"],
        "bucket" => &[
            "storage_gb",
            "requests_per_month",
            "write_requests_per_month",
        ],
        "container_registry" => &["storage_gb", "hours_per_month"],
        "feature_store" => &[
            "storage_gb",
            "online_reads_per_month",
            "online_writes_per_month",
        ],
        _ => &[],
    }
}

/// A usage file that does not parse, at `line:col` (1-based).
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct UsageError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Where each figure came from, to point at it in later errors.
pub type Positions = BTreeMap<String, (usize, usize)>;

/// Parse a usage file: YAML for `.yaml`/`.yml`, HCL otherwise.
pub fn parse(file: &str, text: &str) -> Result<(UsageByAddress, Positions), UsageError> {
    if file.ends_with(".yaml") || file.ends_with(".yml") {
        parse_yaml(file, text)
    } else {
        parse_hcl(file, text)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

fn parse_hcl(file: &str, text: &str) -> Result<(UsageByAddress, Positions), UsageError> {
    use hcl_edit::expr::Expression;
    use hcl_edit::structure::Structure;
    use hcl_edit::Span as _;
    let err = |offset: usize, message: String| {
        let (line, col) = line_col(text, offset);
        UsageError {
            file: file.into(),
            line,
            col,
            message,
        }
    };
    let body: hcl_edit::structure::Body = text.parse().map_err(|e: hcl_edit::parser::Error| {
        let loc = e.location();
        UsageError {
            file: file.into(),
            line: loc.line(),
            col: loc.column(),
            message: e.message().to_string(),
        }
    })?;
    let mut out = UsageByAddress::new();
    let mut pos = Positions::new();
    for s in body.iter() {
        let start = s.span().map(|r| r.start).unwrap_or(0);
        let Structure::Block(b) = s else {
            return Err(err(
                start,
                "expected a block: usage \"ADDRESS\" { key = number }".into(),
            ));
        };
        if b.ident.as_str() != "usage" || b.labels.len() != 1 {
            return Err(err(
                start,
                format!(
                    "expected usage \"ADDRESS\" {{ … }}, found a `{}` block with {} label(s)",
                    b.ident.as_str(),
                    b.labels.len()
                ),
            ));
        }
        let address = b.labels[0].as_str().to_string();
        let entry = out.entry(address.clone()).or_default();
        pos.insert(address.clone(), line_col(text, start));
        for item in b.body.iter() {
            let at = item.span().map(|r| r.start).unwrap_or(start);
            let Structure::Attribute(a) = item else {
                return Err(err(at, "expected key = number inside usage".into()));
            };
            let value = match &a.value {
                Expression::Number(n) => n.value().as_f64(),
                _ => None,
            };
            let Some(v) = value.filter(|v| v.is_finite() && *v >= 0.0) else {
                let at = a.value.span().map(|r| r.start).unwrap_or(at);
                return Err(err(
                    at,
                    format!("{} must be a non-negative number", a.key.as_str()),
                ));
            };
            entry.insert(a.key.as_str().to_string(), v);
            pos.insert(
                format!("{address}\u{0}{}", a.key.as_str()),
                line_col(text, at),
            );
        }
    }
    Ok((out, pos))
}

fn parse_yaml(file: &str, text: &str) -> Result<(UsageByAddress, Positions), UsageError> {
    use marked_yaml::Node;
    let at = |m: Option<&marked_yaml::Marker>, message: String| UsageError {
        file: file.into(),
        line: m.map(|m| m.line()).unwrap_or(1),
        col: m.map(|m| m.column()).unwrap_or(1),
        message,
    };
    let root = marked_yaml::parse_yaml(0, text).map_err(|e| UsageError {
        file: file.into(),
        line: 1,
        col: 1,
        message: e.to_string(),
    })?;
    let Some(map) = root.as_mapping() else {
        return Err(at(
            root.span().start(),
            "expected a mapping of resource address → usage".into(),
        ));
    };
    let mut out = UsageByAddress::new();
    let mut pos = Positions::new();
    for (k, v) in map.iter() {
        let address = k.as_str().to_string();
        if let Some(m) = k.span().start() {
            pos.insert(address.clone(), (m.line(), m.column()));
        }
        let Node::Mapping(figures) = v else {
            return Err(at(
                v.span().start(),
                format!("{address}: expected a mapping of usage key → number"),
            ));
        };
        let entry = out.entry(address.clone()).or_default();
        for (fk, fv) in figures.iter() {
            let n = fv
                .as_scalar()
                .and_then(|s| s.as_str().trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0);
            let Some(n) = n else {
                return Err(at(
                    fv.span().start(),
                    format!("{}: {} must be a non-negative number", address, fk.as_str()),
                ));
            };
            entry.insert(fk.as_str().to_string(), n);
            if let Some(m) = fk.span().start() {
                pos.insert(
                    format!("{address}\u{0}{}", fk.as_str()),
                    (m.line(), m.column()),
                );
            }
        }
    }
    Ok((out, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_and_yaml_say_the_same() {
        let hcl = "usage \"gpu_pool.training[\\\"h100\\\"]\" {\n  average_nodes = 4\n  hours_per_month = 360\n}\n";
        let yaml = "gpu_pool.training[\"h100\"]:\n  average_nodes: 4\n  hours_per_month: 360\n";
        let (a, _) = parse("u.hcl", hcl).unwrap();
        let (b, _) = parse("u.yaml", yaml).unwrap();
        assert_eq!(a, b);
        assert_eq!(a["gpu_pool.training[\"h100\"]"]["average_nodes"], 4.0);
    }

    #[test]
    fn bad_values_point_at_their_line_and_column() {
        let e = parse(
            "u.hcl",
            "usage \"bucket.a\" {\n  storage_gb = \"lots\"\n}\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.col), (2, 16), "{e}");
        let e = parse("u.yaml", "bucket.a:\n  storage_gb: lots\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e
            .message
            .contains("storage_gb must be a non-negative number"));
        let e = parse("u.hcl", "bucket \"a\" {}\n").unwrap_err();
        assert_eq!((e.line, e.col), (1, 1));
    }
}
