//! Human rendering of plans: grouped by cloud, coloured, attribute-level diffs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use mlinfra_engine::plan::{redact, Action, OutputChange, Plan, ResourceChange};
use mlinfra_schema::{is_identifier, BlockSchema, Value};

use crate::style::Style;

const SENSITIVE: &str = "(sensitive value)";
/// What stands for each value of a write-only attribute, which the plan never holds.
const WRITE_ONLY: &str = "(write-only)";

/// `v` (a resource's attributes) with the null leaves of its write-only attributes' shapes
/// shown as `(write-only)`: a map's names stay visible, its values never were there.
fn mark_write_only(v: &Value, schema: Option<&BlockSchema>) -> Value {
    let (Value::Map(m), Some(schema)) = (v, schema) else {
        return v.clone();
    };
    let marker = || Value::String(WRITE_ONLY.into());
    let mut out = m.clone();
    for a in schema.attributes.iter().filter(|a| a.write_only) {
        if let Some(Value::Map(shape)) = out.get_mut(a.name) {
            shape.values_mut().for_each(|x| *x = marker());
        }
    }
    Value::Map(out)
}

/// Render a whole plan the way `mlinfra plan` prints it.
pub fn plan(p: &Plan, st: Style) -> String {
    let mut out = String::new();
    for n in &p.notes {
        let _ = writeln!(out, "{} {n}", st.dim("note:"));
    }
    if !p.notes.is_empty() {
        out.push('\n');
    }
    if !p.drift.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            st.bold("Objects have changed outside of mlinfra")
        );
        out.push('\n');
        for c in &p.drift {
            change(&mut out, c, st, true);
        }
    }
    let visible: Vec<&ResourceChange> = p
        .changes
        .iter()
        .filter(|c| {
            c.action != Action::NoOp || c.importing.is_some() || c.previous_address.is_some()
        })
        .collect();
    let outputs: Vec<&OutputChange> = p
        .outputs
        .iter()
        .filter(|o| o.action != Action::NoOp)
        .collect();
    if visible.is_empty() && outputs.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            st.bold(&st.green("No changes. Your infrastructure matches the configuration."))
        );
        if !p.changes.is_empty() {
            let _ = writeln!(out, "\n{} resources are up to date.", p.changes.len());
        }
        return out;
    }
    if !visible.is_empty() {
        if legend(&mut out, &visible, st) {
            out.push('\n');
        }
        let _ = writeln!(out, "mlinfra will perform the following actions:");
        let mut by_cloud: BTreeMap<String, Vec<&ResourceChange>> = BTreeMap::new();
        for c in &visible {
            by_cloud
                .entry(c.cloud.clone().unwrap_or_else(|| "other".into()))
                .or_default()
                .push(c);
        }
        for (i, (cloud, changes)) in by_cloud.into_iter().enumerate() {
            let title = format!(
                "── {} ({} change{}) ",
                cloud_title(&cloud),
                changes.len(),
                if changes.len() == 1 { "" } else { "s" }
            );
            let lead = if i == 0 { "\n" } else { "" };
            let _ = writeln!(
                out,
                "{lead}{}{}\n",
                st.bold(&title),
                st.dim(&"─".repeat(60usize.saturating_sub(title.chars().count())))
            );
            for c in changes {
                change(&mut out, c, st, false);
            }
        }
    }
    let s = p.summary();
    let imports = if s.import > 0 {
        format!("{} to import, ", s.import)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{} {imports}{} to add, {} to change, {} to destroy{}.",
        st.bold("Plan:"),
        s.add,
        s.change,
        s.destroy,
        if s.forget > 0 {
            format!(", {} to forget", s.forget)
        } else {
            String::new()
        }
    );
    if !outputs.is_empty() {
        let _ = writeln!(out, "\nChanges to Outputs:");
        let width = outputs.iter().map(|o| o.name.len()).max().unwrap_or(0);
        for o in outputs {
            let sym = symbol(o.action, st);
            let shown = |v: &Option<Value>| match v {
                _ if o.sensitive => SENSITIVE.to_string(),
                Some(v) => inline(v),
                None => "null".into(),
            };
            let text = match o.action {
                Action::Create => shown(&o.after),
                Action::Delete => format!("{} -> null", shown(&o.before)),
                _ => format!("{} -> {}", shown(&o.before), shown(&o.after)),
            };
            let _ = writeln!(out, "  {sym} {:width$} = {text}", o.name);
        }
    }
    out
}

fn cloud_title(c: &str) -> String {
    match c {
        "aws" => "AWS".into(),
        "gcp" => "GCP".into(),
        "azure" => "Azure".into(),
        other => other.to_string(),
    }
}

/// The symbols the plan uses; whether any were listed.
fn legend(out: &mut String, changes: &[&ResourceChange], st: Style) -> bool {
    let actions: BTreeSet<Action> = changes.iter().map(|c| c.action).collect();
    let mut lines = Vec::new();
    for (a, text) in [
        (Action::Create, "create"),
        (Action::Update, "update in-place"),
        (
            Action::DeleteThenCreate,
            "destroy and then create replacement",
        ),
        (
            Action::CreateThenDelete,
            "create replacement and then destroy",
        ),
        (Action::Delete, "destroy"),
        (
            Action::Forget,
            "forget: taken out of state, left in the cloud",
        ),
    ] {
        if actions.contains(&a) {
            lines.push(format!("  {} {text}", symbol(a, st)));
        }
    }
    if lines.is_empty() {
        return false;
    }
    let _ = writeln!(
        out,
        "Resource actions are indicated with the following symbols:"
    );
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    true
}

fn symbol(a: Action, st: Style) -> String {
    let s = a.symbol();
    match a {
        Action::Create => st.green(s),
        Action::Update => st.yellow(s),
        Action::Delete => st.red(s),
        Action::DeleteThenCreate | Action::CreateThenDelete => st.red(s),
        _ => s.to_string(),
    }
}

fn change(out: &mut String, c: &ResourceChange, st: Style, drift: bool) {
    let verb = if drift {
        match c.action {
            Action::Delete => "has been deleted",
            _ => "has changed",
        }
    } else {
        match c.action {
            Action::Create => "will be created",
            Action::Update => "will be updated in-place",
            Action::DeleteThenCreate | Action::CreateThenDelete => "must be replaced",
            Action::Delete => "will be destroyed",
            Action::Read => "will be read",
            Action::Forget => "will no longer be managed by mlinfra, but will not be destroyed",
            Action::NoOp if c.importing.is_some() => "will be imported, with no changes",
            Action::NoOp => "is unchanged",
        }
    };
    match (&c.previous_address, c.action, drift) {
        (Some(prev), Action::NoOp, false) if c.importing.is_none() => {
            let _ = writeln!(
                out,
                "  {} {}",
                st.bold(&format!("# {prev}")),
                st.bold(&format!("has moved to {}", c.address))
            );
        }
        (prev, _, _) => {
            let _ = writeln!(
                out,
                "  {} {}",
                st.bold(&format!("# {}", c.address)),
                st.bold(verb)
            );
            if let (Some(prev), false) = (prev, drift) {
                let _ = writeln!(out, "  {}", st.dim(&format!("# (moved from {prev})")));
            }
        }
    }
    if let (Some(id), false) = (&c.importing, drift) {
        let _ = writeln!(out, "  {}", st.dim(&format!("# (imported from \"{id}\")")));
    }
    if !c.reason_message.is_empty() && c.action != Action::Create {
        let _ = writeln!(
            out,
            "  {}",
            st.dim(&format!("# (because {})", c.reason_message))
        );
    }
    let sym = symbol(c.action, st);
    let pad = if c.action.symbol().len() > 1 {
        ""
    } else {
        "  "
    };
    let name = mlinfra_engine::Address::parse(&c.address)
        .map(|a| a.name)
        .unwrap_or_else(|_| c.name.clone());
    let _ = writeln!(out, "{pad}{sym} {} \"{name}\" {{", c.kind);
    let marker = Value::String(SENSITIVE.into());
    let schema = mlinfra_schema::kind(&c.kind).map(|k| &k.body);
    let before = c
        .before
        .as_ref()
        .map(|v| mark_write_only(&redact(v, &c.sensitive_paths, &marker), schema));
    // A forgotten object is unchanged in the cloud: shown as it is, not as deleted.
    let after = if c.action == Action::Forget {
        before.clone()
    } else {
        c.after
            .as_ref()
            .map(|v| mark_write_only(&redact(v, &c.sensitive_paths, &marker), schema))
    };
    let replace: BTreeSet<Vec<String>> = c.replace_paths.iter().cloned().collect();
    let mut ctx = Body {
        out,
        st,
        replace: &replace,
        hidden: 0,
    };
    ctx.map_body(
        before.as_ref(),
        after.as_ref(),
        c.action,
        6,
        &mut Vec::new(),
        schema,
    );
    let hidden = ctx.hidden;
    if hidden > 0 {
        let _ = writeln!(
            out,
            "{}{}",
            " ".repeat(8),
            st.dim(&format!(
                "# ({hidden} unchanged attribute{} hidden)",
                if hidden == 1 { "" } else { "s" }
            ))
        );
    }
    let _ = writeln!(out, "    }}\n");
}

struct Body<'a> {
    out: &'a mut String,
    st: Style,
    replace: &'a BTreeSet<Vec<String>>,
    hidden: usize,
}

impl Body<'_> {
    fn map_body(
        &mut self,
        before: Option<&Value>,
        after: Option<&Value>,
        action: Action,
        indent: usize,
        path: &mut Vec<String>,
        schema: Option<&BlockSchema>,
    ) {
        let empty = BTreeMap::new();
        let b = before.and_then(Value::as_map).unwrap_or(&empty);
        let a = after.and_then(Value::as_map).unwrap_or(&empty);
        let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
        let shown: Vec<&String> = keys
            .into_iter()
            .filter(|k| {
                let (bv, av) = (b.get(*k), a.get(*k));
                let null = |v: Option<&Value>| matches!(v, None | Some(Value::Null));
                !(null(bv) && null(av))
            })
            .collect();
        let width = shown
            .iter()
            .filter(|k| schema.is_none_or(|s| s.block(k).is_none()))
            .map(|k| key_text(k).len())
            .max()
            .unwrap_or(0);
        for k in shown {
            let (bv, av) = (
                b.get(k).filter(|v| !matches!(v, Value::Null)),
                a.get(k).filter(|v| !matches!(v, Value::Null)),
            );
            path.push(k.clone());
            match schema.and_then(|s| s.block(k)) {
                Some(bs) if bs.labeled => {
                    let empty = BTreeMap::new();
                    let bm = bv.and_then(Value::as_map).unwrap_or(&empty);
                    let am = av.and_then(Value::as_map).unwrap_or(&empty);
                    let labels: BTreeSet<&String> = bm.keys().chain(am.keys()).collect();
                    for label in labels {
                        path.push(label.clone());
                        self.block(
                            &format!("{k} {}", Value::String(label.clone()).to_hcl()),
                            bm.get(label),
                            am.get(label),
                            action,
                            indent,
                            path,
                            bs,
                        );
                        path.pop();
                    }
                }
                Some(bs) => self.block(k, bv, av, action, indent, path, bs),
                None => self.attr(k, bv, av, action, indent, width, path),
            }
            path.pop();
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn block(
        &mut self,
        title: &str,
        before: Option<&Value>,
        after: Option<&Value>,
        action: Action,
        indent: usize,
        path: &mut Vec<String>,
        schema: &BlockSchema,
    ) {
        let st = self.st;
        let pad = " ".repeat(indent);
        let forces = if self.replace.contains(path) {
            format!(" {}", st.red("# forces replacement"))
        } else {
            String::new()
        };
        let (sym, inner_action) = match (before, after) {
            (None, Some(_)) => (st.green("+"), Action::Create),
            (Some(_), None) => (st.red("-"), Action::Delete),
            (Some(b), Some(a)) if b == a => {
                if action == Action::Delete {
                    (st.red("-"), Action::Delete)
                } else {
                    self.hidden += 1;
                    return;
                }
            }
            (Some(_), Some(_)) => (st.yellow("~"), action),
            (None, None) => return,
        };
        let _ = writeln!(self.out, "{pad}{sym} {title} {{{forces}");
        let saved = self.hidden;
        self.map_body(before, after, inner_action, indent + 4, path, Some(schema));
        let inner_hidden = self.hidden - saved;
        self.hidden = saved;
        if inner_hidden > 0 {
            let _ = writeln!(
                self.out,
                "{pad}    {}",
                st.dim(&format!(
                    "# ({inner_hidden} unchanged attribute{} hidden)",
                    if inner_hidden == 1 { "" } else { "s" }
                ))
            );
        }
        let _ = writeln!(self.out, "{pad}  }}");
    }

    #[allow(clippy::too_many_arguments)]
    fn attr(
        &mut self,
        key: &str,
        before: Option<&Value>,
        after: Option<&Value>,
        action: Action,
        indent: usize,
        width: usize,
        path: &mut Vec<String>,
    ) {
        let st = self.st;
        let pad = " ".repeat(indent);
        let forces = if self.replace.contains(path) {
            format!(" {}", st.red("# forces replacement"))
        } else {
            String::new()
        };
        let key_s = key_text(key);
        match (before, after) {
            (None, Some(a)) => {
                let _ = writeln!(
                    self.out,
                    "{pad}{} {key_s:width$} = {}{forces}",
                    st.green("+"),
                    self.value(a, indent)
                );
            }
            (Some(b), None) => {
                let _ = writeln!(
                    self.out,
                    "{pad}{} {key_s:width$} = {}{}{forces}",
                    st.red("-"),
                    self.value(b, indent),
                    if action == Action::Delete {
                        ""
                    } else {
                        " -> null"
                    }
                );
            }
            (Some(b), Some(a)) if b == a => {
                if action == Action::Delete {
                    let _ = writeln!(
                        self.out,
                        "{pad}{} {key_s:width$} = {}",
                        st.red("-"),
                        self.value(b, indent)
                    );
                } else {
                    self.hidden += 1;
                }
            }
            (Some(Value::Map(_)), Some(Value::Map(_))) => {
                let _ = writeln!(self.out, "{pad}{} {key_s} = {{{forces}", st.yellow("~"));
                let saved = self.hidden;
                self.map_body(before, after, action, indent + 4, path, None);
                self.hidden = saved;
                let _ = writeln!(self.out, "{pad}  }}");
            }
            (Some(Value::String(b)), Some(Value::String(a)))
                if b.contains('\n') || a.contains('\n') =>
            {
                let _ = writeln!(
                    self.out,
                    "{pad}{} {key_s:width$} = <<-EOT{forces}",
                    st.yellow("~")
                );
                let diff = similar::TextDiff::from_lines(b.as_str(), a.as_str());
                for ch in diff.iter_all_changes() {
                    let line = ch.value().trim_end_matches('\n');
                    let text = match ch.tag() {
                        similar::ChangeTag::Delete => st.red(&format!("- {line}")),
                        similar::ChangeTag::Insert => st.green(&format!("+ {line}")),
                        similar::ChangeTag::Equal => format!("  {line}"),
                    };
                    let _ = writeln!(self.out, "{pad}    {text}");
                }
                let _ = writeln!(self.out, "{pad}  EOT");
            }
            (Some(b), Some(a)) => {
                let _ = writeln!(
                    self.out,
                    "{pad}{} {key_s:width$} = {} -> {}{forces}",
                    st.yellow("~"),
                    self.value(b, indent),
                    self.value(a, indent)
                );
            }
            (None, None) => {}
        }
    }

    fn value(&self, v: &Value, indent: usize) -> String {
        match v {
            Value::Unknown => self.st.dim("(known after apply)"),
            Value::String(s) if s == SENSITIVE => self.st.dim(SENSITIVE),
            Value::String(s) if s == WRITE_ONLY => self.st.dim(WRITE_ONLY),
            Value::List(items) if items.iter().any(|i| matches!(i, Value::Map(_))) => {
                let pad = " ".repeat(indent + 4);
                let mut s = String::from("[\n");
                for i in items {
                    let _ = writeln!(s, "{pad}{},", inline(i));
                }
                s.push_str(&" ".repeat(indent + 2));
                s.push(']');
                s
            }
            Value::Map(m) if m.len() > 3 || inline(v).len() > 70 => {
                let pad = " ".repeat(indent + 4);
                let width = m
                    .iter()
                    .filter(|(_, x)| !matches!(x, Value::Null))
                    .map(|(k, _)| key_text(k).len())
                    .max()
                    .unwrap_or(0);
                let mut s = String::from("{\n");
                for (k, x) in m.iter().filter(|(_, x)| !matches!(x, Value::Null)) {
                    let _ = writeln!(
                        s,
                        "{pad}{:width$} = {}",
                        key_text(k),
                        self.value(x, indent + 4)
                    );
                }
                s.push_str(&" ".repeat(indent + 2));
                s.push('}');
                s
            }
            other => inline(other),
        }
    }
}

fn key_text(k: &str) -> String {
    if is_identifier(k) {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_hcl()
    }
}

/// A value on one line, with unknowns spelled out.
pub fn inline(v: &Value) -> String {
    match v {
        Value::Unknown => "(known after apply)".into(),
        Value::String(s) if s == SENSITIVE || s == WRITE_ONLY => s.clone(),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(inline).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(m) if m.is_empty() => "{}".into(),
        Value::Map(m) => format!(
            "{{ {} }}",
            m.iter()
                .filter(|(_, x)| !matches!(x, Value::Null))
                .map(|(k, x)| format!("{} = {}", key_text(k), inline(x)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_hcl(),
    }
}
