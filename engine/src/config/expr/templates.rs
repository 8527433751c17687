//! String templates: quoted strings and heredocs with `${…}` and `%{…}` sequences, and the
//! template functions `templatefile` and `templatestring`, which render the same syntax
//! from a file or a string with only the variables given in the call.
//!
//! A strip marker `~` trims the whitespace of the literal text next to it in the source,
//! as HCL does: never the result of an interpolation, and only the literal right beside
//! the marker (in every iteration of a `%{ for }`).

use std::collections::HashMap;

use crate::config::syntax::Span as _;
use crate::config::syntax::{Directive, Element, Template};
use crate::config::syntax::{Expression, FuncCall};
use mlinfra_schema::{format_number, Value};

use super::{Evaluator, Res, Scope};
use crate::budget;
use crate::config::functions;
use crate::diag::Diagnostic;

/// Whether an element strips the whitespace before it (`${~`, `%{~`) …
fn strips_before(el: &Element) -> bool {
    match el {
        Element::Literal(_) => false,
        Element::Interpolation(i) => i.strip.strip_start(),
        Element::Directive(d) => match &**d {
            Directive::If(d) => d.if_expr.strip.strip_start(),
            Directive::For(d) => d.for_expr.strip.strip_start(),
        },
    }
}

/// … and after it (`~}` closing the interpolation, the `endif` or the `endfor`).
fn strips_after(el: &Element) -> bool {
    match el {
        Element::Literal(_) => false,
        Element::Interpolation(i) => i.strip.strip_end(),
        Element::Directive(d) => match &**d {
            Directive::If(d) => d.endif_expr.strip.strip_end(),
            Directive::For(d) => d.endfor_expr.strip.strip_end(),
        },
    }
}

impl Evaluator<'_, '_> {
    /// A template's string (unknown when a part of it is).
    pub(super) fn template(&mut self, t: &Template) -> Res {
        let mut out = String::new();
        let mut unknown = false;
        self.template_seq(t, (false, false), &mut out, &mut unknown)?;
        Ok(if unknown {
            Value::Unknown
        } else {
            Value::String(out)
        })
    }

    /// The elements of one template body. `trim` says whether the body's first literal
    /// loses its leading whitespace and its last its trailing whitespace (the markers of
    /// the directive around it).
    fn template_seq(
        &mut self,
        t: &Template,
        trim: (bool, bool),
        out: &mut String,
        unknown: &mut bool,
    ) -> Result<(), EvalError> {
        let els: Vec<&Element> = t.iter().collect();
        for (i, el) in els.iter().enumerate() {
            match el {
                Element::Literal(s) => {
                    if let Err(o) = budget::reserve(0, s.len() as u64) {
                        return self.overrun(s.span(), o).map(|_| ());
                    }
                    let start = if i == 0 {
                        trim.0
                    } else {
                        strips_after(els[i - 1])
                    };
                    let end = if i + 1 == els.len() {
                        trim.1
                    } else {
                        strips_before(els[i + 1])
                    };
                    let mut text: &str = s.value();
                    if start {
                        text = text.trim_start();
                    }
                    if end {
                        text = text.trim_end();
                    }
                    out.push_str(text);
                }
                Element::Interpolation(i) => {
                    let v = self.eval_expr(&i.expr)?;
                    self.interpolate(&v, i.expr.span(), out, unknown)?;
                }
                Element::Directive(d) => match &**d {
                    Directive::If(d) => {
                        let c = self.eval_expr(&d.if_expr.cond_expr)?;
                        let close = d.endif_expr.strip.strip_start();
                        match c {
                            Value::Bool(true) => {
                                let end = d
                                    .else_expr
                                    .as_ref()
                                    .map_or(close, |e| e.strip.strip_start());
                                self.template_seq(
                                    &d.if_expr.template,
                                    (d.if_expr.strip.strip_end(), end),
                                    out,
                                    unknown,
                                )?;
                            }
                            Value::Bool(false) => {
                                if let Some(e) = &d.else_expr {
                                    self.template_seq(
                                        &e.template,
                                        (e.strip.strip_end(), close),
                                        out,
                                        unknown,
                                    )?;
                                }
                            }
                            Value::Unknown => *unknown = true,
                            other => {
                                return self
                                    .err(
                                        d.if_expr.cond_expr.span(),
                                        Diagnostic::error(format!(
                                            "%{{if}} condition is a {}",
                                            other.type_name()
                                        ))
                                        .expected("a bool"),
                                    )
                                    .map(|_| ())
                            }
                        }
                    }
                    Directive::For(d) => {
                        let coll = self.eval_expr(&d.for_expr.collection_expr)?;
                        let Some(items) = self.iterate(&coll, d.for_expr.collection_expr.span())?
                        else {
                            *unknown = true;
                            continue;
                        };
                        let trim = (
                            d.for_expr.strip.strip_end(),
                            d.endfor_expr.strip.strip_start(),
                        );
                        for (k, v) in items {
                            if let Err(o) = budget::step() {
                                return self
                                    .overrun(d.for_expr.collection_expr.span(), o)
                                    .map(|_| ());
                            }
                            let mut frame = HashMap::new();
                            if let Some(kv) = &d.for_expr.key_var {
                                frame.insert(kv.as_str().to_string(), k);
                            }
                            frame.insert(d.for_expr.value_var.as_str().to_string(), v);
                            self.locals.push(frame);
                            let r = self.template_seq(&d.for_expr.template, trim, out, unknown);
                            self.locals.pop();
                            r?;
                        }
                    }
                },
            }
        }
        Ok(())
    }

    pub(super) fn interpolate(
        &mut self,
        v: &Value,
        at: Option<std::ops::Range<usize>>,
        out: &mut String,
        unknown: &mut bool,
    ) -> Result<(), EvalError> {
        if let Value::String(s) = v {
            if let Err(o) = budget::reserve(0, s.len() as u64) {
                return self.overrun(at, o).map(|_| ());
            }
        }
        match v {
            Value::String(s) => out.push_str(s),
            Value::Number(n) => out.push_str(&format_number(n)),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Unknown => *unknown = true,
            other => return self
                .err(
                    at,
                    Diagnostic::error(format!(
                        "cannot put a {} into a string template",
                        other.type_name()
                    ))
                    .expected("a string, number or bool")
                    .help("use jsonencode(…) or join(\",\", …) to turn a collection into a string"),
                )
                .map(|_| ()),
        }
        Ok(())
    }

    /// `templatefile(path, vars)` and `templatestring(ref, vars)`: the template rendered
    /// with only `vars` in scope (and the functions). A template of one interpolation is
    /// that value, as a quoted one is.
    pub(super) fn template_function(&mut self, call: &FuncCall) -> Res {
        let name = call.name.name.as_str();
        let span = call.span();
        let signature = if name == "templatefile" {
            "templatefile(path, vars)"
        } else {
            "templatestring(template, vars)"
        };
        if self.template_vars.is_some() {
            return self.err(
                span,
                Diagnostic::error(format!("{name}() cannot be called from inside a template"))
                    .help("render the inner template outside and pass its result in vars"),
            );
        }
        let args: Vec<&Expression> = call.args.iter().collect();
        if args.len() != 2 || call.args.expand_final() {
            return self.err(
                span,
                Diagnostic::error(format!(
                    "{name}(): expected 2 arguments, got {}",
                    args.len()
                ))
                .expected(signature),
            );
        }
        let (text, origin) = if name == "templatefile" {
            let p = match self.eval_expr(args[0])? {
                Value::String(s) => s,
                Value::Unknown => return Ok(Value::Unknown),
                other => {
                    return self.err(
                        args[0].span(),
                        Diagnostic::error(format!("{name}(): the path is a {}", other.type_name()))
                            .expected(signature),
                    )
                }
            };
            let ctx = functions::CallContext {
                module_dir: self.scope.module_dir,
            };
            match functions::read_file(&functions::resolve_path(&p, &ctx)) {
                Ok(t) => (t, p),
                Err(e) => {
                    return self.err(
                        span,
                        Diagnostic::error(format!("{name}(): {e}")).expected(signature),
                    )
                }
            }
        } else {
            if matches!(
                args[0],
                Expression::String(_)
                    | Expression::StringTemplate(_)
                    | Expression::HeredocTemplate(_)
            ) {
                return self.err(
                    args[0].span(),
                    Diagnostic::error("templatestring(): the template must be a reference to a string, not a literal")
                        .expected("a local value, variable or attribute holding the template")
                        .help("a literal is already a template: write it directly, or put it in a local value"),
                );
            }
            match self.eval_expr(args[0])? {
                Value::String(s) => (s, "the template".to_string()),
                Value::Unknown => return Ok(Value::Unknown),
                other => {
                    return self.err(
                        args[0].span(),
                        Diagnostic::error(format!(
                            "{name}(): the template is a {}",
                            other.type_name()
                        ))
                        .expected(signature),
                    )
                }
            }
        };
        let vars = match self.eval_expr(args[1])? {
            Value::Map(m) => m,
            Value::Unknown => return Ok(Value::Unknown),
            other => {
                return self.err(
                    args[1].span(),
                    Diagnostic::error(format!("{name}(): vars is a {}", other.type_name()))
                        .expected("an object of the template's variables, like { name = \"x\" }"),
                )
            }
        };
        if let Some(bad) = vars.keys().find(|k| !crate::format::lex::is_identifier(k)) {
            return self.err(
                args[1].span(),
                Diagnostic::error(format!("{name}(): \"{bad}\" cannot be a template variable"))
                    .expected("names that are identifiers (letters, digits, _ and -, not starting with a digit)"),
            );
        }
        let tmpl = match crate::config::syntax::parse_template(&text) {
            Ok(t) => t,
            Err(e) => {
                let l = e.location();
                return self.err(
                    span,
                    Diagnostic::error(format!(
                        "{name}(): {origin}:{}:{}: {}",
                        l.line(),
                        l.column(),
                        e.message().lines().next().unwrap_or("syntax error")
                    ))
                    .expected("a template: text with ${…} interpolations and %{…} directives"),
                );
            }
        };
        let scope = Scope {
            module_dir: self.scope.module_dir,
            root_dir: self.scope.root_dir,
            no_references: Some("a template"),
            ..Scope::default()
        };
        let mut sub = Evaluator::new(&scope, self.file);
        sub.template_vars = Some(vars.keys().cloned().collect());
        sub.locals.push(vars.into_iter().collect());
        let els: Vec<&Element> = tmpl.iter().collect();
        let result = match els[..] {
            [Element::Interpolation(i)] => sub.eval_expr(&i.expr),
            _ => sub.template(&tmpl),
        };
        self.sensitive |= sub.sensitive;
        if result.is_ok() {
            return result;
        }
        for d in std::mem::take(&mut sub.diags) {
            let at = d.span.map(|s| line_col(&text, s.start as usize));
            let summary = match at {
                Some((line, col)) => format!("{name}(): {origin}:{line}:{col}: {}", d.summary),
                None => format!("{name}(): {origin}: {}", d.summary),
            };
            self.diags.push(Diagnostic {
                summary,
                span: self.span(span.clone()),
                ..d
            });
        }
        Err(EvalError)
    }

    /// A name that is not among a template's variables.
    pub(super) fn not_a_template_var(
        &mut self,
        root: &str,
        at: Option<std::ops::Range<usize>>,
    ) -> Option<Res> {
        let names = self.template_vars.as_ref()?;
        let list: Vec<&str> = names.iter().map(String::as_str).collect();
        let help = crate::diag::did_you_mean(root, list.iter().copied())
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("add `{root}` to the vars argument of the call"));
        Some(
            self.err(
                at,
                Diagnostic::error(format!("`{root}` is not one of the template's variables"))
                    .expected(if list.is_empty() {
                        "no variables: the call passes none".to_string()
                    } else {
                        format!("one of {}", list.join(", "))
                    })
                    .help(help),
            ),
        )
    }
}

use super::EvalError;

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval_in(dir: &std::path::Path, text: &str) -> Result<Value, String> {
        let e: Expression = text.parse().unwrap();
        let scope = Scope {
            module_dir: Some(dir),
            ..Scope::default()
        };
        let mut ev = Evaluator::new(&scope, crate::diag::FileId::default());
        ev.try_eval(&e).map_err(|_| {
            ev.diags
                .iter()
                .map(|d| format!("{} [{}]", d.summary, d.expected.clone().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    /// HCL's strip markers: only the literal beside the marker loses its whitespace.
    #[test]
    fn strip_markers_trim_the_literal_beside_them() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [
            (r#""hello ${~ "world" }""#, "helloworld"),
            (r#""${"a "} ${~"b"}""#, "a b"),
            (r#""${"x"~}${"y"} z""#, "xy z"),
            (r#""${"x"~}  ${"y"}""#, "xy"),
            (r#""%{ if true ~}  yes  %{~ endif }""#, "yes"),
            (r#""<%{ if false }a%{ else ~}  b  %{~ endif ~}  >""#, "<b>"),
            (r#""[%{ for x in ["a", "b"] ~} ${x} %{~ endfor }]""#, "[ab]"),
            (
                r#""[%{ for x in ["a", "b"] } ${x} %{ endfor }]""#,
                "[ a  b ]",
            ),
            (r#""%{ for x in ["a "] }${x}%{~ endfor }.""#, "a ."),
        ];
        for (src, want) in rows {
            assert_eq!(eval_in(dir.path(), src), Ok(s(want)), "{src}");
        }
    }

    #[test]
    fn templatefile_renders_terraform_templates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("backends.tftpl"),
            "%{ for addr in ip_addrs ~}\nbackend ${addr}:${port}\n%{ endfor ~}\n",
        )
        .unwrap();
        assert_eq!(
            eval_in(
                dir.path(),
                r#"templatefile("backends.tftpl", { port = 8080, ip_addrs = ["10.0.0.1", "10.0.0.2"] })"#
            ),
            Ok(s("backend 10.0.0.1:8080\nbackend 10.0.0.2:8080\n"))
        );
        std::fs::write(
            dir.path().join("list.tftpl"),
            "${jsonencode([for n in names : upper(n)])}",
        )
        .unwrap();
        assert_eq!(
            eval_in(
                dir.path(),
                r#"templatefile("list.tftpl", { names = ["a", "b"] })"#
            ),
            Ok(s("[\"A\",\"B\"]"))
        );
        std::fs::write(dir.path().join("raw.tftpl"), "${names}").unwrap();
        assert_eq!(
            eval_in(
                dir.path(),
                r#"templatefile("raw.tftpl", { names = ["a"] })"#
            ),
            Ok(Value::List(vec![s("a")])),
            "one interpolation is its value"
        );
        std::fs::write(dir.path().join("bad.tftpl"), "line one\n${nmae}\n").unwrap();
        let e = eval_in(dir.path(), r#"templatefile("bad.tftpl", { name = "x" })"#).unwrap_err();
        assert!(
            e.contains(
                "templatefile(): bad.tftpl:2:3: `nmae` is not one of the template's variables"
            ),
            "{e}"
        );
        assert!(e.contains("one of name"), "{e}");
        std::fs::write(dir.path().join("var.tftpl"), "${var.x}").unwrap();
        let e = eval_in(dir.path(), r#"templatefile("var.tftpl", {})"#).unwrap_err();
        assert!(
            e.contains("`var` is not one of the template's variables"),
            "{e}"
        );
        std::fs::write(
            dir.path().join("nested.tftpl"),
            "${templatefile(\"raw.tftpl\", {})}",
        )
        .unwrap();
        let e = eval_in(dir.path(), r#"templatefile("nested.tftpl", {})"#).unwrap_err();
        assert!(e.contains("cannot be called from inside a template"), "{e}");
        std::fs::write(dir.path().join("syntax.tftpl"), "a\n${\n").unwrap();
        let e = eval_in(dir.path(), r#"templatefile("syntax.tftpl", {})"#).unwrap_err();
        assert!(e.contains("templatefile(): syntax.tftpl:"), "{e}");
        let e = eval_in(dir.path(), r#"templatefile("missing.tftpl", {})"#).unwrap_err();
        assert!(e.contains("templatefile():"), "{e}");
        let e = eval_in(dir.path(), r#"templatefile("raw.tftpl", { "not ok" = 1 })"#).unwrap_err();
        assert!(
            e.contains("\"not ok\" cannot be a template variable"),
            "{e}"
        );
    }

    #[test]
    fn templatestring_renders_a_referenced_string() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            eval_in(
                dir.path(),
                r#"templatestring(jsondecode("\"Hello, $${name}!\""), { name = "Jodie" })"#
            ),
            Ok(s("Hello, Jodie!"))
        );
        let e = eval_in(
            dir.path(),
            r#"templatestring("Hello, $${name}", { name = "x" })"#,
        )
        .unwrap_err();
        assert!(
            e.contains("must be a reference to a string, not a literal"),
            "{e}"
        );
        let e = eval_in(dir.path(), r#"templatestring(jsondecode("1"), {})"#).unwrap_err();
        assert!(e.contains("the template is a number"), "{e}");
    }
}
