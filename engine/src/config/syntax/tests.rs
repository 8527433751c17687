//! The compact tree says what the parser's says: every node, name, literal and span.

use std::fmt::Write as _;

use hcl_edit::Span as _;

use super::*;

/// One line per node of the parser's tree: its kind, span and text.
fn dump_parsed(out: &mut String, depth: usize, e: &hcl_edit::expr::Expression) {
    use hcl_edit::expr::{Expression as E, ObjectKey as K, TraversalOperator as T};
    let pad = " ".repeat(depth);
    let span = e.span();
    let what = match e {
        E::Null(_) => "null".to_string(),
        E::Bool(b) => format!("bool {}", b.value()),
        E::Number(n) => format!("number {:?}", convert::expr(E::Number(n.clone()))),
        E::String(s) => format!("string {:?}", s.value()),
        E::Array(a) => format!("array {}", a.len()),
        E::Object(o) => format!("object {}", o.len()),
        E::StringTemplate(_) => "string template".into(),
        E::HeredocTemplate(h) => format!("heredoc {} {:?}", h.delimiter.as_str(), h.indent()),
        E::Parenthesis(_) => "parenthesis".into(),
        E::Variable(v) => format!("variable {}", v.as_str()),
        E::Conditional(_) => "conditional".into(),
        E::FuncCall(f) => format!(
            "call {}{} {} {}",
            f.name
                .namespace
                .iter()
                .map(|n| format!("{}::", n.as_str()))
                .collect::<String>(),
            f.name.name.as_str(),
            f.args.len(),
            f.args.expand_final()
        ),
        E::Traversal(t) => format!("traversal {}", t.operators.len()),
        E::UnaryOp(u) => format!("unary {:?} {:?}", u.operator.value(), u.operator.span()),
        E::BinaryOp(b) => format!("binary {:?} {:?}", b.operator.value(), b.operator.span()),
        E::ForExpr(f) => format!(
            "for {:?} {} {} {} {:?}",
            f.intro.key_var.as_ref().map(|k| k.as_str().to_string()),
            f.intro.value_var.as_str(),
            f.key_expr.is_some(),
            f.grouping,
            f.intro.span()
        ),
    };
    let _ = writeln!(out, "{pad}{what} {span:?}");
    let d = depth + 1;
    match e {
        E::Array(a) => a.iter().for_each(|x| dump_parsed(out, d, x)),
        E::Object(o) => {
            for (k, v) in o.iter() {
                match k {
                    K::Ident(i) => {
                        let _ = writeln!(out, "{pad} key {} {:?}", i.as_str(), i.span());
                    }
                    K::Expression(k) => dump_parsed(out, d, k),
                }
                dump_parsed(out, d, v.expr());
            }
        }
        E::StringTemplate(t) => dump_parsed_template(out, d, t),
        E::HeredocTemplate(h) => dump_parsed_template(out, d, &h.template),
        E::Parenthesis(p) => dump_parsed(out, d, p.inner()),
        E::Conditional(c) => {
            for x in [&c.cond_expr, &c.true_expr, &c.false_expr] {
                dump_parsed(out, d, x);
            }
        }
        E::FuncCall(f) => f.args.iter().for_each(|x| dump_parsed(out, d, x)),
        E::Traversal(t) => {
            dump_parsed(out, d, &t.expr);
            for op in &t.operators {
                let _ = match op.value() {
                    T::AttrSplat(_) => writeln!(out, "{pad} .* {:?}", op.span()),
                    T::FullSplat(_) => writeln!(out, "{pad} [*] {:?}", op.span()),
                    T::GetAttr(i) => writeln!(out, "{pad} .{} {:?}", i.as_str(), op.span()),
                    T::LegacyIndex(i) => writeln!(out, "{pad} .{} {:?}", i.value(), op.span()),
                    T::Index(x) => {
                        let _ = writeln!(out, "{pad} [] {:?}", op.span());
                        dump_parsed(out, d, x);
                        Ok(())
                    }
                };
            }
        }
        E::UnaryOp(u) => dump_parsed(out, d, &u.expr),
        E::BinaryOp(b) => {
            dump_parsed(out, d, &b.lhs_expr);
            dump_parsed(out, d, &b.rhs_expr);
        }
        E::ForExpr(f) => {
            dump_parsed(out, d, &f.intro.collection_expr);
            if let Some(k) = &f.key_expr {
                dump_parsed(out, d, k);
            }
            dump_parsed(out, d, &f.value_expr);
            if let Some(c) = &f.cond {
                let _ = writeln!(out, "{pad} if {:?}", c.span());
                dump_parsed(out, d, &c.expr);
            }
        }
        _ => {}
    }
}

fn dump_parsed_template(out: &mut String, depth: usize, t: &hcl_edit::template::Template) {
    use hcl_edit::template::{Directive as D, Element as El};
    let pad = " ".repeat(depth);
    for el in t.iter() {
        match el {
            El::Literal(l) => {
                let _ = writeln!(out, "{pad}literal {:?} {:?}", l.value(), l.span());
            }
            El::Interpolation(i) => {
                let _ = writeln!(out, "{pad}interpolation {:?} {:?}", i.strip, i.span());
                dump_parsed(out, depth + 1, &i.expr);
            }
            El::Directive(dir) => match &**dir {
                D::If(x) => {
                    let _ = writeln!(
                        out,
                        "{pad}if {:?} {:?} {:?} {:?}",
                        x.if_expr.strip,
                        x.else_expr.as_ref().map(|e| e.strip),
                        x.endif_expr.strip,
                        x.span()
                    );
                    dump_parsed(out, depth + 1, &x.if_expr.cond_expr);
                    dump_parsed_template(out, depth + 1, &x.if_expr.template);
                    if let Some(e) = &x.else_expr {
                        dump_parsed_template(out, depth + 1, &e.template);
                    }
                }
                D::For(x) => {
                    let f = &x.for_expr;
                    let _ = writeln!(
                        out,
                        "{pad}for {:?} {} {:?} {:?} {:?}",
                        f.key_var.as_ref().map(|k| k.as_str().to_string()),
                        f.value_var.as_str(),
                        f.strip,
                        x.endfor_expr.strip,
                        x.span()
                    );
                    dump_parsed(out, depth + 1, &f.collection_expr);
                    dump_parsed_template(out, depth + 1, &f.template);
                }
            },
        }
    }
}

fn dump_parsed_body(out: &mut String, depth: usize, b: &hcl_edit::structure::Body) {
    use hcl_edit::structure::{BlockLabel as L, Structure as S};
    let pad = " ".repeat(depth);
    for s in b.iter() {
        match s {
            S::Attribute(a) => {
                let _ = writeln!(
                    out,
                    "{pad}{} = {:?} {:?}",
                    a.key.as_str(),
                    a.key.span(),
                    a.span()
                );
                dump_parsed(out, depth + 1, &a.value);
            }
            S::Block(bl) => {
                let labels: Vec<String> = bl
                    .labels
                    .iter()
                    .map(|l| match l {
                        L::Ident(i) => format!("{} {:?}", i.as_str(), i.span()),
                        L::String(s) => format!("{:?} {:?}", s.value(), s.span()),
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "{pad}{} {:?} {labels:?} {:?}",
                    bl.ident.as_str(),
                    bl.ident.span(),
                    bl.span()
                );
                dump_parsed_body(out, depth + 1, &bl.body);
            }
        }
    }
}

/// The same lines for the compact tree.
fn dump(out: &mut String, depth: usize, e: &Expression) {
    use Expression as E;
    let pad = " ".repeat(depth);
    let span = e.span();
    let what = match e {
        E::Null(_) => "null".to_string(),
        E::Bool(b) => format!("bool {}", b.value()),
        E::Number(_) => format!("number {e:?}"),
        E::String(s) => format!("string {:?}", &**s.value()),
        E::Array(a) => format!("array {}", a.len()),
        E::Object(o) => format!("object {}", o.len()),
        E::StringTemplate(_) => "string template".into(),
        E::HeredocTemplate(h) => format!("heredoc {} {:?}", h.delimiter.as_str(), h.indent()),
        E::Parenthesis(_) => "parenthesis".into(),
        E::Variable(v) => format!("variable {}", v.as_str()),
        E::Conditional(_) => "conditional".into(),
        E::FuncCall(f) => format!("call {} {} {}", f.name, f.args.len(), f.args.expand_final()),
        E::Traversal(t) => format!("traversal {}", t.operators.len()),
        E::UnaryOp(u) => format!("unary {:?} {:?}", u.operator.value(), u.operator.span()),
        E::BinaryOp(b) => format!("binary {:?} {:?}", b.operator.value(), b.operator.span()),
        E::ForExpr(f) => format!(
            "for {:?} {} {} {} {:?}",
            f.intro.key_var.as_ref().map(|k| k.as_str().to_string()),
            f.intro.value_var.as_str(),
            f.key_expr.is_some(),
            f.grouping,
            f.intro.span()
        ),
    };
    let _ = writeln!(out, "{pad}{what} {span:?}");
    let d = depth + 1;
    match e {
        E::Array(a) => a.iter().for_each(|x| dump(out, d, x)),
        E::Object(o) => {
            for (k, v) in o.iter() {
                match k {
                    ObjectKey::Ident(i) => {
                        let _ = writeln!(out, "{pad} key {} {:?}", i.as_str(), i.span());
                    }
                    ObjectKey::Expression(k) => dump(out, d, k),
                }
                dump(out, d, v.expr());
            }
        }
        E::StringTemplate(t) => dump_template(out, d, t),
        E::HeredocTemplate(h) => dump_template(out, d, &h.template),
        E::Parenthesis(p) => dump(out, d, p.inner()),
        E::Conditional(c) => {
            for x in [&c.cond_expr, &c.true_expr, &c.false_expr] {
                dump(out, d, x);
            }
        }
        E::FuncCall(f) => f.args.iter().for_each(|x| dump(out, d, x)),
        E::Traversal(t) => {
            dump(out, d, &t.expr);
            for op in t.operators.iter() {
                let _ = match op.value() {
                    TraversalOperator::AttrSplat => writeln!(out, "{pad} .* {:?}", op.span()),
                    TraversalOperator::FullSplat => writeln!(out, "{pad} [*] {:?}", op.span()),
                    TraversalOperator::GetAttr(i) => {
                        writeln!(out, "{pad} .{} {:?}", i.as_str(), op.span())
                    }
                    TraversalOperator::LegacyIndex(i) => {
                        writeln!(out, "{pad} .{i} {:?}", op.span())
                    }
                    TraversalOperator::Index(x) => {
                        let _ = writeln!(out, "{pad} [] {:?}", op.span());
                        dump(out, d, x);
                        Ok(())
                    }
                };
            }
        }
        E::UnaryOp(u) => dump(out, d, &u.expr),
        E::BinaryOp(b) => {
            dump(out, d, &b.lhs_expr);
            dump(out, d, &b.rhs_expr);
        }
        E::ForExpr(f) => {
            dump(out, d, &f.intro.collection_expr);
            if let Some(k) = &f.key_expr {
                dump(out, d, k);
            }
            dump(out, d, &f.value_expr);
            if let Some(c) = &f.cond {
                let _ = writeln!(out, "{pad} if {:?}", c.span());
                dump(out, d, &c.expr);
            }
        }
        _ => {}
    }
}

fn dump_template(out: &mut String, depth: usize, t: &Template) {
    let pad = " ".repeat(depth);
    for el in t.iter() {
        match el {
            Element::Literal(l) => {
                let _ = writeln!(out, "{pad}literal {:?} {:?}", &**l.value(), l.span());
            }
            Element::Interpolation(i) => {
                let _ = writeln!(out, "{pad}interpolation {:?} {:?}", i.strip, i.span());
                dump(out, depth + 1, &i.expr);
            }
            Element::Directive(dir) => match &**dir {
                Directive::If(x) => {
                    let _ = writeln!(
                        out,
                        "{pad}if {:?} {:?} {:?} {:?}",
                        x.if_expr.strip,
                        x.else_expr.as_ref().map(|e| e.strip),
                        x.endif_expr.strip,
                        x.span()
                    );
                    dump(out, depth + 1, &x.if_expr.cond_expr);
                    dump_template(out, depth + 1, &x.if_expr.template);
                    if let Some(e) = &x.else_expr {
                        dump_template(out, depth + 1, &e.template);
                    }
                }
                Directive::For(x) => {
                    let f = &x.for_expr;
                    let _ = writeln!(
                        out,
                        "{pad}for {:?} {} {:?} {:?} {:?}",
                        f.key_var.as_ref().map(|k| k.as_str().to_string()),
                        f.value_var.as_str(),
                        f.strip,
                        x.endfor_expr.strip,
                        x.span()
                    );
                    dump(out, depth + 1, &f.collection_expr);
                    dump_template(out, depth + 1, &f.template);
                }
            },
        }
    }
}

fn dump_body(out: &mut String, depth: usize, b: &Body) {
    let pad = " ".repeat(depth);
    for s in b.iter() {
        match s {
            Structure::Attribute(a) => {
                let _ = writeln!(
                    out,
                    "{pad}{} = {:?} {:?}",
                    a.key.as_str(),
                    a.key.span(),
                    a.span()
                );
                dump(out, depth + 1, &a.value);
            }
            Structure::Block(bl) => {
                let labels: Vec<String> = bl
                    .labels
                    .iter()
                    .map(|l| match l {
                        BlockLabel::Ident(i) => format!("{} {:?}", i.as_str(), i.span()),
                        BlockLabel::String(s) => format!("{:?} {:?}", &**s.value(), s.span()),
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "{pad}{} {:?} {labels:?} {:?}",
                    bl.ident.as_str(),
                    bl.ident.span(),
                    bl.span()
                );
                dump_body(out, depth + 1, &bl.body);
            }
        }
    }
}

/// The parser's tree of `text` and the compact one built from it, as the same lines.
fn both(text: &str) -> (String, String) {
    let parsed = hcl_edit::parser::parse_body(text).expect("parses");
    let mut want = String::new();
    dump_parsed_body(&mut want, 0, &parsed);
    let mut got = String::new();
    dump_body(&mut got, 0, &convert::body(parsed));
    (want, got)
}

/// Every kind of node there is, in one file.
const EVERY_NODE: &str = r#"
resource "aws_s3_bucket" "b" {
  n      = null
  t      = true
  i      = -5
  big    = 123456789012345678901234567890
  f      = 1.5e3
  s      = "plain"
  list   = [1, "two", [3]]
  obj    = { a = 1, "b" : 2, (var.k) = 3, null = 4 }
  tmpl   = "x-${var.a}-%{ if var.b ~}yes%{~ else }no%{ endif }"
  loop   = "%{ for k, v in var.m }${k}=${v},%{ endfor }"
  doc    = <<-EOT
    line ${var.x}
      indented
    EOT
  raw    = <<EOT
raw
EOT
  paren  = (1 + 2) * 3
  cond   = var.x != null && var.x.y ? "a" : "b"
  neg    = !var.flag
  call   = merge(local.tags, { shard = "3" })
  spread = concat(var.lists...)
  ns     = provider::aws::arn_parse("arn:aws:s3:::b")
  splat  = aws_instance.web[*].id
  legacy = aws_instance.web.*.id[0]
  index  = var.m["k"].items.0
  forl   = [for i, v in var.xs : upper(v) if i > 0]
  form   = { for k, v in var.m : v => k... }
  nested {
    inner = 1
    deeper label_a "label b" {
      x = "y"
    }
  }
}
"#;

#[test]
fn every_node_keeps_its_kind_names_literals_and_spans() {
    let (want, got) = both(EVERY_NODE);
    assert_eq!(got, want);
    // Each kind is in the fixture, so the comparison above covered it.
    for kind in [
        "null ",
        "bool ",
        "number ",
        "string ",
        "array ",
        "object ",
        "string template",
        "heredoc EOT Some(4)",
        "heredoc EOT None",
        "parenthesis",
        "variable ",
        "conditional",
        "call provider::aws::arn_parse",
        "call concat 1 true",
        "traversal ",
        "unary Not",
        "binary And",
        "for Some(\"i\")",
        "literal ",
        "interpolation ",
        "if ",
        "for Some(\"k\")",
        " .* ",
        " [*] ",
        " .0 ",
        " [] ",
        " key ",
        "deeper ",
    ] {
        assert!(want.contains(kind), "the fixture has no `{kind}`:\n{want}");
    }
}

#[test]
fn a_number_is_read_as_written_at_512_bits() {
    let Some(Structure::Attribute(a)) = convert::body(
        hcl_edit::parser::parse_body("x = 123456789012345678901234567890\n").unwrap(),
    )
    .iter()
    .next()
    .cloned() else {
        panic!("an attribute")
    };
    let Expression::Number(n) = &a.value else {
        panic!("a number: {:?}", a.value)
    };
    let n = n.value().as_ref().expect("in range");
    assert_eq!(
        mlinfra_schema::format_number(n),
        "123456789012345678901234567890"
    );
}

#[test]
fn published_modules_convert_node_for_node() {
    let files = crate::format::tests::module_fixtures();
    assert!(files.len() >= 10, "only {} module files found", files.len());
    for (name, text) in files {
        let (want, got) = both(&text);
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn nodes_are_compact() {
    use std::mem::size_of;
    // The parser's: an expression is 128 bytes, a body entry 304.
    assert_eq!(size_of::<Expression>(), 32);
    assert!(size_of::<Structure>() <= 72, "{}", size_of::<Structure>());
    assert_eq!(size_of::<Spanned<Ident>>(), 24);
}

#[test]
fn a_visitor_reaches_every_traversal() {
    struct Names(Vec<String>);
    impl visit::Visit for Names {
        fn visit_traversal(&mut self, t: &Traversal) {
            if let Expression::Variable(v) = &t.expr {
                self.0.push(v.as_str().to_string());
            }
            visit::visit_traversal(self, t);
        }
    }
    let body = convert::body(hcl_edit::parser::parse_body(EVERY_NODE).unwrap());
    let mut names = Names(Vec::new());
    visit::Visit::visit_body(&mut names, &body);
    // `var.`: k (an object key), a and b (a template), m (a template's for), x (a
    // heredoc), x twice (a conditional), flag (a unary), lists (an expanded argument),
    // m (an index), xs and m (for expressions).
    assert_eq!(
        names.0.iter().filter(|n| *n == "var").count(),
        12,
        "{:?}",
        names.0
    );
    assert_eq!(names.0.iter().filter(|n| *n == "local").count(), 1);
    assert_eq!(names.0.iter().filter(|n| *n == "aws_instance").count(), 2);
}

#[test]
fn an_expression_prints_as_canonical_hcl() {
    for text in [
        "aws_s3_bucket.b[\"key\"].arn",
        "module.net.aws_vpc.main[0]",
        "aws_instance.web[*].id",
        "aws_instance.web.*.id[0]",
        "var.m.items.0",
        "merge(local.tags, { shard = \"3\" })",
        "concat(var.lists...)",
        "provider::aws::arn_parse(\"arn\")",
        "var.x != null && var.x.y ? \"a\" : \"b\"",
        "!var.flag",
        "-5",
        "(1 + 2) * 3",
        "[for i, v in var.xs : upper(v) if i > 0]",
        "{for k, v in var.m : v => k...}",
        "\"x-${var.a}-%{ if var.b ~}yes%{~ else }no%{ endif }\"",
        "\"a \\\"quoted\\\" $${literal} \\\\ \\n\"",
        "{ (var.k) = 3, null = 4 }",
        "[]",
        "{}",
        "null",
        "true",
        "1.5",
    ] {
        let e = parse_expr(text).unwrap_or_else(|err| panic!("{text}: {err}"));
        assert_eq!(e.to_string(), text);
    }
    // Layout is not kept; what is written is.
    assert_eq!(parse_expr("a . b [ 0 ]").unwrap().to_string(), "a.b[0]");
    assert_eq!(parse_expr("f( x ,y )").unwrap().to_string(), "f(x, y)");
}
