//! Functions about a value rather than on it: `sensitive`, `nonsensitive` and
//! `issensitive` change or read the secret mark the evaluator tracks, `ephemeralasnull`
//! turns an ephemeral value into null, and `type` (in the console only, as in Terraform)
//! names the value's type.

use crate::config::syntax::FuncCall;
use crate::config::syntax::Span as _;
use mlinfra_schema::Value;

use super::{Evaluator, Res};
use crate::diag::Diagnostic;

impl Evaluator<'_, '_> {
    pub(super) fn mark_function(&mut self, call: &FuncCall) -> Res {
        let name = call.name.name.as_str();
        let span = call.span();
        if name == "type" && !self.console {
            return self.err(
                call.name.name.span(),
                Diagnostic::error("`type` is available only in `mlinfra console`, as in Terraform")
                    .help("in a manifest, compare with `can(tostring(x))`, `can(tolist(x))` or `can(keys(x))`"),
            );
        }
        let args: Vec<_> = call.args.iter().collect();
        if args.len() != 1 || call.args.expand_final() {
            return self.err(
                span,
                Diagnostic::error(format!("{name}(): expected 1 argument, got {}", args.len()))
                    .expected(format!("{name}(value)")),
            );
        }
        let outer = std::mem::take(&mut self.sensitive);
        let outer_ephemeral = std::mem::take(&mut self.ephemeral);
        let v = self.eval_expr(args[0]);
        let inner = self.sensitive;
        let ephemeral = self.ephemeral;
        // Only `ephemeralasnull` drops the argument's ephemeral mark (with its value).
        self.ephemeral = outer_ephemeral || (ephemeral && name != "ephemeralasnull");
        // `sensitive` marks what the argument computed; `nonsensitive` drops its mark;
        // `issensitive` and `type` say something about the value that is not the secret
        // itself. The rest of the enclosing expression keeps its own mark.
        self.sensitive = name == "sensitive" || outer;
        let v = v?;
        Ok(match name {
            "issensitive" => Value::Bool(inner),
            "ephemeralasnull" if ephemeral => Value::Null,
            "type" => Value::String(type_name(&v, 0)),
            _ => v,
        })
    }
}

/// The type of a value as Terraform's console writes it. A value here carries no declared
/// type, so a list is always a tuple of its elements' types and a map an object.
fn type_name(v: &Value, depth: usize) -> String {
    let pad = "    ".repeat(depth + 1);
    let close = "    ".repeat(depth);
    match v {
        Value::Null | Value::Unknown => "dynamic".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        Value::List(items) if items.is_empty() => "tuple([])".into(),
        Value::List(items) => {
            let inner: String = items
                .iter()
                .map(|i| format!("{pad}{},\n", type_name(i, depth + 1)))
                .collect();
            format!("tuple([\n{inner}{close}])")
        }
        Value::Map(m) if m.is_empty() => "object({})".into(),
        Value::Map(m) => {
            let inner: String = m
                .iter()
                .map(|(k, v)| format!("{pad}{k}: {},\n", type_name(v, depth + 1)))
                .collect();
            format!("object({{\n{inner}{close}}})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::expr::{Scope, Tracked};
    use std::collections::HashMap;

    fn eval(text: &str, console: bool) -> Result<(Value, bool), String> {
        let vars: HashMap<String, Tracked> = HashMap::from([(
            "secret".to_string(),
            Tracked {
                value: Value::String("hunter2".into()),
                sensitive: true,
                ..Default::default()
            },
        )]);
        let scope = Scope {
            vars: Some(&vars),
            ..Scope::default()
        };
        let mut ev = Evaluator::new(&scope, crate::diag::FileId::default());
        ev.console = console;
        let e: crate::config::syntax::Expression = text.parse().unwrap();
        match ev.try_eval(&e) {
            Ok(v) => Ok((v, ev.sensitive)),
            Err(_) => Err(ev
                .diags
                .iter()
                .map(|d| d.summary.clone())
                .collect::<Vec<_>>()
                .join("; ")),
        }
    }

    #[test]
    fn sensitive_marks_follow_terraform() {
        let b = |x: bool| Value::Bool(x);
        let s = |x: &str| Value::String(x.into());
        let rows = [
            ("sensitive(1)", Value::from(1.0), true),
            ("issensitive(sensitive(\"secret\"))", b(true), false),
            ("issensitive(\"hello\")", b(false), false),
            ("issensitive(var.secret)", b(true), false),
            (
                "nonsensitive(sha256(var.secret))",
                s("f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7"),
                false,
            ),
            ("nonsensitive(\"plain\")", s("plain"), false),
            ("length(var.secret)", Value::from(7.0), true),
            (
                "[nonsensitive(length(var.secret)), var.secret][0]",
                Value::from(7.0),
                true,
            ),
            ("issensitive(nonsensitive(var.secret))", b(false), false),
        ];
        for (src, want, secret) in rows {
            assert_eq!(eval(src, false), Ok((want, secret)), "{src}");
        }
        let e = eval("sensitive(1, 2)", false).unwrap_err();
        assert!(e.contains("expected 1 argument, got 2"), "{e}");
    }

    #[test]
    fn type_is_for_the_console() {
        let e = eval("type(1)", false).unwrap_err();
        assert!(e.contains("available only in `mlinfra console`"), "{e}");
        let t = |src: &str| match eval(src, true).unwrap().0 {
            Value::String(s) => s,
            other => panic!("{other:?}"),
        };
        assert_eq!(t("type(1)"), "number");
        assert_eq!(t("type(\"a\")"), "string");
        assert_eq!(t("type(null)"), "dynamic");
        assert_eq!(
            eval("type(var.secret)", true),
            Ok((Value::String("string".into()), false))
        );
        assert_eq!(t("type([])"), "tuple([])");
        assert_eq!(
            t("type([\"a\", 1])"),
            "tuple([\n    string,\n    number,\n])"
        );
        assert_eq!(
            t("type({ a = [true] })"),
            "object({\n    a: tuple([\n        bool,\n    ]),\n})"
        );
    }
}
