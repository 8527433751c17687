//! Canonical formatting of manifests: two-space indents, aligned `=`, comments kept.

use hcl_edit::expr::{Array, Expression, Object, ObjectKey};
use hcl_edit::structure::{Body, Structure};
use hcl_edit::{Decorate, RawString};

/// Format a manifest; errors carry the parser's message.
pub fn format_source(text: &str) -> Result<String, String> {
    let body = hcl_edit::parser::parse_body(text).map_err(|e| e.to_string())?;
    let mut out = String::new();
    write_body(&body, 0, &mut out);
    let trailing = comment_lines(body.decor().suffix());
    for c in trailing.lines {
        out.push_str(&c);
        out.push('\n');
    }
    let trimmed = out.trim_start_matches('\n').trim_end();
    Ok(if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}\n")
    })
}

struct Comments {
    lines: Vec<String>,
    blank_before: bool,
}

/// Comment lines in a decor string, and whether a blank line precedes the item.
fn comment_lines(raw: Option<&RawString>) -> Comments {
    let text: &str = raw.map(|r| &**r).unwrap_or("");
    let mut lines = Vec::new();
    let mut blank_before = false;
    // Each structure's own newline is consumed by the parser, so an empty segment here is a
    // blank line; the last segment is the indentation of the item's own line.
    let mut newlines_in_a_row = 1;
    let segments: Vec<&str> = text.split('\n').collect();
    for line in &segments[..segments.len() - 1] {
        let t = line.trim();
        if t.is_empty() {
            newlines_in_a_row += 1;
            if newlines_in_a_row >= 2 && lines.is_empty() {
                blank_before = true;
            }
            if newlines_in_a_row >= 2 && !lines.is_empty() && lines.last() != Some(&String::new()) {
                lines.push(String::new());
            }
            continue;
        }
        newlines_in_a_row = 1;
        lines.push(t.to_string());
    }
    Comments {
        lines,
        blank_before,
    }
}

fn suffix_comment(raw: Option<&RawString>) -> String {
    let t = raw.map(|r| r.trim()).unwrap_or("");
    if t.is_empty() {
        String::new()
    } else {
        format!(" {t}")
    }
}

fn write_body(body: &Body, indent: usize, out: &mut String) {
    let items: Vec<&Structure> = body.iter().collect();
    // Alignment groups: runs of single-line attributes without blank lines or comments between.
    let mut widths = vec![0usize; items.len()];
    let mut start = 0;
    while start < items.len() {
        let mut end = start;
        while end < items.len() {
            let Structure::Attribute(a) = items[end] else {
                break;
            };
            let c = comment_lines(a.decor().prefix());
            if end > start && (c.blank_before || !c.lines.is_empty()) {
                break;
            }
            // Multi-line values stand alone, like Terraform's formatter does.
            if format_expr(&a.value, indent).contains('\n') {
                if end == start {
                    end += 1;
                }
                break;
            }
            end += 1;
        }
        let width = items[start..end.max(start)]
            .iter()
            .filter_map(|s| match s {
                Structure::Attribute(a) => Some(a.key.as_str().len()),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        for w in widths.iter_mut().take(end).skip(start) {
            *w = width;
        }
        start = if end == start { start + 1 } else { end };
    }
    let pad = " ".repeat(indent);
    for (i, s) in items.iter().enumerate() {
        let c = comment_lines(s.decor().prefix());
        let prev_block = i > 0 && matches!(items[i - 1], Structure::Block(_));
        let this_block = matches!(s, Structure::Block(_));
        if i > 0 && (c.blank_before || ((prev_block || this_block) && indent == 0)) {
            out.push('\n');
        }
        for line in &c.lines {
            if line.is_empty() {
                out.push('\n');
            } else {
                out.push_str(&pad);
                out.push_str(line);
                out.push('\n');
            }
        }
        match s {
            Structure::Attribute(a) => {
                let value = format_expr(&a.value, indent);
                out.push_str(&format!(
                    "{pad}{:width$} = {value}{}\n",
                    a.key.as_str(),
                    suffix_comment(a.decor().suffix()),
                    width = widths[i]
                ));
            }
            Structure::Block(b) => {
                out.push_str(&pad);
                out.push_str(b.ident.as_str());
                for l in &b.labels {
                    out.push(' ');
                    match l {
                        hcl_edit::structure::BlockLabel::Ident(id) => out.push_str(id.as_str()),
                        hcl_edit::structure::BlockLabel::String(s) => {
                            out.push_str(&quote(s.value()))
                        }
                    }
                }
                let inner_comments = comment_lines(b.body.decor().suffix());
                if b.body.is_empty() && inner_comments.lines.is_empty() {
                    out.push_str(" {}\n");
                    continue;
                }
                out.push_str(" {\n");
                write_body(&b.body, indent + 2, out);
                for line in &inner_comments.lines {
                    if !line.is_empty() {
                        out.push_str(&format!("{pad}  {line}\n"));
                    }
                }
                out.push_str(&format!("{pad}}}{}\n", suffix_comment(b.decor().suffix())));
            }
        }
    }
}

fn quote(s: &str) -> String {
    mlinfra_schema::Value::String(s.to_string()).to_hcl()
}

fn has_comment(raw: Option<&RawString>) -> bool {
    raw.is_some_and(|r| r.contains('#') || r.contains("//") || r.contains("/*"))
}

fn plain(e: &Expression) -> String {
    let mut e = e.clone();
    e.decor_mut().clear();
    e.to_string().trim().to_string()
}

/// Format an expression at `indent`; arrays and objects are re-laid out, others kept.
fn format_expr(e: &Expression, indent: usize) -> String {
    match e {
        Expression::Array(a) => format_array(a, indent).unwrap_or_else(|| plain(e)),
        Expression::Object(o) => format_object(o, indent).unwrap_or_else(|| plain(e)),
        _ => plain(e),
    }
}

fn format_array(a: &Array, indent: usize) -> Option<String> {
    if a.is_empty() {
        return Some("[]".into());
    }
    if has_comment(Some(a.trailing()))
        || a.iter()
            .any(|i| has_comment(i.decor().prefix()) || has_comment(i.decor().suffix()))
    {
        return None;
    }
    let multiline = Expression::Array(a.clone()).to_string().contains('\n');
    let items: Vec<String> = a.iter().map(|i| format_expr(i, indent + 2)).collect();
    if !multiline && items.iter().all(|i| !i.contains('\n')) {
        return Some(format!("[{}]", items.join(", ")));
    }
    let pad = " ".repeat(indent + 2);
    let mut s = String::from("[\n");
    for i in items {
        s.push_str(&format!("{pad}{i},\n"));
    }
    s.push_str(&" ".repeat(indent));
    s.push(']');
    Some(s)
}

fn format_object(o: &Object, indent: usize) -> Option<String> {
    if o.is_empty() {
        return Some("{}".into());
    }
    if has_comment(Some(o.trailing())) {
        return None;
    }
    for (k, v) in o.iter() {
        if has_comment(k.decor().prefix())
            || has_comment(k.decor().suffix())
            || has_comment(v.expr().decor().prefix())
            || has_comment(v.expr().decor().suffix())
        {
            return None;
        }
    }
    let multiline = Expression::Object(o.clone()).to_string().contains('\n');
    let key_text = |k: &ObjectKey| match k {
        ObjectKey::Ident(id) => id.as_str().to_string(),
        ObjectKey::Expression(e) => plain(e),
    };
    let entries: Vec<(String, String)> = o
        .iter()
        .map(|(k, v)| (key_text(k), format_expr(v.expr(), indent + 2)))
        .collect();
    if !multiline && entries.iter().all(|(_, v)| !v.contains('\n')) {
        return Some(format!(
            "{{ {} }}",
            entries
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let width = entries
        .iter()
        .filter(|(_, v)| !v.contains('\n'))
        .map(|(k, _)| k.len())
        .max()
        .unwrap_or(0);
    let pad = " ".repeat(indent + 2);
    let mut s = String::from("{\n");
    for (k, v) in entries {
        if v.contains('\n') {
            s.push_str(&format!("{pad}{k} = {v}\n"));
        } else {
            s.push_str(&format!("{pad}{k:width$} = {v}\n"));
        }
    }
    s.push_str(&" ".repeat(indent));
    s.push('}');
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_indents_and_keeps_comments() {
        let src = "# top\ngpu_pool \"h100\" {\n    accelerator=\"H100\" # the GPU\n  gpus_per_node = 8\n\n  # scale\n  max_nodes    = 16\n  labels = {a=\"b\"}\n}\nbucket \"b\" {}\n";
        let out = format_source(src).unwrap();
        assert_eq!(
            out,
            "# top\ngpu_pool \"h100\" {\n  accelerator   = \"H100\" # the GPU\n  gpus_per_node = 8\n\n  # scale\n  max_nodes = 16\n  labels    = { a = \"b\" }\n}\n\nbucket \"b\" {}\n"
        );
        assert_eq!(
            format_source(&out).unwrap(),
            out,
            "formatting is idempotent"
        );
    }

    #[test]
    fn multiline_objects_are_reindented() {
        let src = "locals {\n  tags = {\n      env = \"prod\"\n   owner = \"ml\"\n  }\n}\n";
        let out = format_source(src).unwrap();
        assert_eq!(
            out,
            "locals {\n  tags = {\n    env   = \"prod\"\n    owner = \"ml\"\n  }\n}\n"
        );
        assert_eq!(format_source(&out).unwrap(), out);
    }
}
