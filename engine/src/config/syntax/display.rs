//! An expression as HCL text in the canonical layout (`a.b[0]`, `f(x, y)`,
//! `{ k = v }`), for messages and for addresses written as expressions.

use std::fmt::{self, Display, Formatter, Write as _};

use super::*;

fn quoted(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    literal(f, s)?;
    f.write_char('"')
}

/// Template text with what would start an escape, a template or the string's end escaped.
fn literal(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '$' | '%' if chars.peek() == Some(&'{') => {
                f.write_char(c)?;
                f.write_char(c)?;
            }
            c => f.write_char(c)?,
        }
    }
    Ok(())
}

fn list<'a>(f: &mut Formatter<'_>, items: impl Iterator<Item = &'a Expression>) -> fmt::Result {
    for (i, e) in items.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}

impl Display for Expression {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expression::Null(_) => f.write_str("null"),
            Expression::Bool(b) => write!(f, "{}", b.value()),
            Expression::Number(n) => match n.value() {
                Some(n) => f.write_str(&mlinfra_schema::format_number(n)),
                None => f.write_str("(a number too large to represent)"),
            },
            Expression::String(s) => quoted(f, s.value()),
            Expression::Array(a) => {
                f.write_char('[')?;
                list(f, a.iter())?;
                f.write_char(']')
            }
            Expression::Object(o) => {
                if o.is_empty() {
                    return f.write_str("{}");
                }
                f.write_str("{ ")?;
                for (i, (k, v)) in o.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match k {
                        ObjectKey::Ident(id) => write!(f, "{}", id.value())?,
                        ObjectKey::Expression(e) => write!(f, "{e}")?,
                    }
                    write!(f, " = {}", v.expr())?;
                }
                f.write_str(" }")
            }
            Expression::StringTemplate(t) => {
                f.write_char('"')?;
                write!(f, "{}", t.template)?;
                f.write_char('"')
            }
            Expression::HeredocTemplate(h) => {
                let dash = if h.indent().is_some() { "-" } else { "" };
                write!(f, "<<{dash}{}\n{}{}", h.delimiter, h.template, h.delimiter)
            }
            Expression::Parenthesis(p) => write!(f, "({})", p.inner()),
            Expression::Variable(v) => write!(f, "{}", v.value()),
            Expression::Conditional(c) => {
                write!(f, "{} ? {} : {}", c.cond_expr, c.true_expr, c.false_expr)
            }
            Expression::FuncCall(c) => {
                write!(f, "{}(", c.name)?;
                list(f, c.args.iter())?;
                if c.args.expand_final() {
                    f.write_str("...")?;
                }
                f.write_char(')')
            }
            Expression::Traversal(t) => {
                write!(f, "{}", t.expr)?;
                for op in t.operators.iter() {
                    match op.value() {
                        TraversalOperator::AttrSplat => f.write_str(".*")?,
                        TraversalOperator::FullSplat => f.write_str("[*]")?,
                        TraversalOperator::GetAttr(name) => write!(f, ".{name}")?,
                        TraversalOperator::Index(e) => write!(f, "[{e}]")?,
                        TraversalOperator::LegacyIndex(i) => write!(f, ".{i}")?,
                    }
                }
                Ok(())
            }
            Expression::UnaryOp(u) => write!(f, "{}{}", u.operator.value().as_str(), u.expr),
            Expression::BinaryOp(b) => write!(
                f,
                "{} {} {}",
                b.lhs_expr,
                b.operator.value().as_str(),
                b.rhs_expr
            ),
            Expression::ForExpr(e) => {
                let (open, close) = if e.key_expr.is_some() {
                    ("{", "}")
                } else {
                    ("[", "]")
                };
                write!(f, "{open}for ")?;
                if let Some(k) = &e.intro.key_var {
                    write!(f, "{}, ", k.value())?;
                }
                write!(
                    f,
                    "{} in {} : ",
                    e.intro.value_var.value(),
                    e.intro.collection_expr
                )?;
                if let Some(k) = &e.key_expr {
                    write!(f, "{k} => ")?;
                }
                write!(f, "{}", e.value_expr)?;
                if e.grouping {
                    f.write_str("...")?;
                }
                if let Some(c) = &e.cond {
                    write!(f, " if {}", c.expr)?;
                }
                f.write_str(close)
            }
        }
    }
}

fn open(f: &mut Formatter<'_>, sigil: char, strip: bool) -> fmt::Result {
    f.write_char(sigil)?;
    f.write_char('{')?;
    if strip {
        f.write_char('~')?;
    }
    Ok(())
}

fn close(f: &mut Formatter<'_>, strip: bool) -> fmt::Result {
    if strip {
        f.write_char('~')?;
    }
    f.write_char('}')
}

impl Display for Template {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for el in self.iter() {
            match el {
                Element::Literal(l) => literal(f, l.value())?,
                Element::Interpolation(i) => {
                    open(f, '$', i.strip.strip_start())?;
                    write!(f, "{}", i.expr)?;
                    close(f, i.strip.strip_end())?;
                }
                Element::Directive(d) => match &**d {
                    Directive::If(d) => {
                        open(f, '%', d.if_expr.strip.strip_start())?;
                        write!(f, " if {} ", d.if_expr.cond_expr)?;
                        close(f, d.if_expr.strip.strip_end())?;
                        write!(f, "{}", d.if_expr.template)?;
                        if let Some(e) = &d.else_expr {
                            open(f, '%', e.strip.strip_start())?;
                            f.write_str(" else ")?;
                            close(f, e.strip.strip_end())?;
                            write!(f, "{}", e.template)?;
                        }
                        open(f, '%', d.endif_expr.strip.strip_start())?;
                        f.write_str(" endif ")?;
                        close(f, d.endif_expr.strip.strip_end())?;
                    }
                    Directive::For(d) => {
                        let x = &d.for_expr;
                        open(f, '%', x.strip.strip_start())?;
                        f.write_str(" for ")?;
                        if let Some(k) = &x.key_var {
                            write!(f, "{}, ", k.value())?;
                        }
                        write!(f, "{} in {} ", x.value_var.value(), x.collection_expr)?;
                        close(f, x.strip.strip_end())?;
                        write!(f, "{}", x.template)?;
                        open(f, '%', d.endfor_expr.strip.strip_start())?;
                        f.write_str(" endfor ")?;
                        close(f, d.endfor_expr.strip.strip_end())?;
                    }
                },
            }
        }
        Ok(())
    }
}
