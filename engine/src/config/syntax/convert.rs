//! The compact tree from the parser's: strings are moved, not copied, and each list is
//! allocated at its final length.

use hcl_edit::expr as h;
use hcl_edit::structure as hs;
use hcl_edit::template as ht;
use hcl_edit::Span as _;

use super::*;

fn ident(i: hcl_edit::Decorated<hcl_edit::Ident>) -> Spanned<Ident> {
    let span = i.span();
    Spanned::new(Ident::new(i.into_value().into_string()), span)
}

fn string(s: hcl_edit::Decorated<String>) -> Spanned<Box<str>> {
    let span = s.span();
    Spanned::new(s.into_value().into_boxed_str(), span)
}

/// A file's body, or a block's.
pub fn body(b: hs::Body) -> Body {
    let pos = Pos::new(b.span());
    Body {
        structures: b.into_iter().map(structure).collect(),
        pos,
    }
}

pub fn structure(s: hs::Structure) -> Structure {
    match s {
        hs::Structure::Attribute(a) => Structure::Attribute(attribute(a)),
        hs::Structure::Block(b) => Structure::Block(Box::new(block(b))),
    }
}

fn attribute(a: hs::Attribute) -> Attribute {
    let pos = Pos::new(a.span());
    Attribute {
        key: ident(a.key),
        value: expr(a.value),
        pos,
    }
}

fn block(b: hs::Block) -> Block {
    let pos = Pos::new(b.span());
    Block {
        ident: ident(b.ident),
        labels: b
            .labels
            .into_iter()
            .map(|l| match l {
                hs::BlockLabel::Ident(i) => BlockLabel::Ident(ident(i)),
                hs::BlockLabel::String(s) => BlockLabel::String(string(s)),
            })
            .collect(),
        body: body(b.body),
        pos,
    }
}

/// The number a literal is, as written: `-5` and `- 5` are the same, at 512 bits.
fn number(n: &hcl_edit::Formatted<hcl_edit::Number>) -> Option<mlinfra_schema::Number> {
    n.as_repr()
        .and_then(|r| {
            let text: String = r.chars().filter(|c| !c.is_whitespace()).collect();
            mlinfra_schema::Number::parse(&text)
        })
        .or_else(|| {
            n.value()
                .as_f64()
                .map(mlinfra_schema::Number::from_json_f64)
        })
        .filter(mlinfra_schema::Number::is_finite)
}

pub fn expr(e: h::Expression) -> Expression {
    let pos = Pos::new(e.span());
    let span = e.span();
    match e {
        h::Expression::Null(_) => Expression::Null(Spanned::new((), span)),
        h::Expression::Bool(b) => Expression::Bool(Spanned::new(*b.value(), span)),
        h::Expression::Number(n) => Expression::Number(Spanned::new(number(&n), span)),
        h::Expression::String(s) => Expression::String(string(s)),
        h::Expression::Array(a) => Expression::Array(Box::new(Array {
            values: a.into_iter().map(expr).collect(),
            pos,
        })),
        h::Expression::Object(o) => Expression::Object(Box::new(Object {
            items: o
                .into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        h::ObjectKey::Ident(i) => ObjectKey::Ident(ident(i)),
                        h::ObjectKey::Expression(e) => ObjectKey::Expression(expr(e)),
                    };
                    (
                        key,
                        ObjectValue {
                            expr: expr(v.into_expr()),
                        },
                    )
                })
                .collect(),
            pos,
        })),
        h::Expression::StringTemplate(t) => Expression::StringTemplate(Box::new(StringTemplate {
            template: Template {
                elements: t.into_iter().map(element).collect(),
                pos,
            },
            pos,
        })),
        h::Expression::HeredocTemplate(h) => {
            let h = *h;
            let indent = h.indent();
            Expression::HeredocTemplate(Box::new(HeredocTemplate {
                delimiter: Ident::new(h.delimiter.into_string()),
                template: template(h.template),
                indent,
                pos,
            }))
        }
        h::Expression::Parenthesis(p) => Expression::Parenthesis(Box::new(Parenthesis {
            inner: expr(p.into_inner()),
            pos,
        })),
        h::Expression::Variable(v) => Expression::Variable(ident(v)),
        h::Expression::Conditional(c) => {
            let c = *c;
            Expression::Conditional(Box::new(Conditional {
                cond_expr: expr(c.cond_expr),
                true_expr: expr(c.true_expr),
                false_expr: expr(c.false_expr),
                pos,
            }))
        }
        h::Expression::FuncCall(f) => {
            let f = *f;
            let args_pos = Pos::new(f.args.span());
            let expand_final = f.args.expand_final();
            Expression::FuncCall(Box::new(FuncCall {
                name: FuncName {
                    namespace: f.name.namespace.into_iter().map(ident).collect(),
                    name: ident(f.name.name),
                },
                args: FuncArgs {
                    args: f.args.into_iter().map(expr).collect(),
                    expand_final,
                    pos: args_pos,
                },
                pos,
            }))
        }
        h::Expression::Traversal(t) => {
            let t = *t;
            Expression::Traversal(Box::new(Traversal {
                expr: expr(t.expr),
                operators: t
                    .operators
                    .into_iter()
                    .map(|op| {
                        let span = op.span();
                        let op = match op.into_value() {
                            h::TraversalOperator::AttrSplat(_) => TraversalOperator::AttrSplat,
                            h::TraversalOperator::FullSplat(_) => TraversalOperator::FullSplat,
                            h::TraversalOperator::GetAttr(i) => {
                                TraversalOperator::GetAttr(Ident::new(i.into_value().into_string()))
                            }
                            h::TraversalOperator::Index(e) => TraversalOperator::Index(expr(e)),
                            h::TraversalOperator::LegacyIndex(i) => {
                                TraversalOperator::LegacyIndex(*i.value())
                            }
                        };
                        Spanned::new(op, span)
                    })
                    .collect(),
                pos,
            }))
        }
        h::Expression::UnaryOp(u) => {
            let u = *u;
            let span = u.operator.span();
            Expression::UnaryOp(Box::new(UnaryOp {
                operator: Spanned::new(*u.operator.value(), span),
                expr: expr(u.expr),
                pos,
            }))
        }
        h::Expression::BinaryOp(b) => {
            let b = *b;
            let span = b.operator.span();
            Expression::BinaryOp(Box::new(BinaryOp {
                lhs_expr: expr(b.lhs_expr),
                operator: Spanned::new(*b.operator.value(), span),
                rhs_expr: expr(b.rhs_expr),
                pos,
            }))
        }
        h::Expression::ForExpr(f) => {
            let f = *f;
            let intro_pos = Pos::new(f.intro.span());
            Expression::ForExpr(Box::new(ForExpr {
                intro: ForIntro {
                    key_var: f.intro.key_var.map(ident),
                    value_var: ident(f.intro.value_var),
                    collection_expr: expr(f.intro.collection_expr),
                    pos: intro_pos,
                },
                key_expr: f.key_expr.map(expr),
                value_expr: expr(f.value_expr),
                grouping: f.grouping,
                cond: f.cond.map(|c| ForCond {
                    pos: Pos::new(c.span()),
                    expr: expr(c.expr),
                }),
                pos,
            }))
        }
    }
}

/// A template (of a heredoc, or of a file read by `templatefile`).
pub fn template(t: ht::Template) -> Template {
    let pos = Pos::new(t.span());
    Template {
        elements: t.into_iter().map(element).collect(),
        pos,
    }
}

fn element(e: ht::Element) -> Element {
    match e {
        ht::Element::Literal(l) => {
            let span = l.span();
            Element::Literal(Spanned::new(l.into_value().into_boxed_str(), span))
        }
        ht::Element::Interpolation(i) => Element::Interpolation(Interpolation {
            pos: Pos::new(i.span()),
            strip: i.strip,
            expr: expr(i.expr),
        }),
        ht::Element::Directive(d) => Element::Directive(Box::new(directive(*d))),
    }
}

fn directive(d: ht::Directive) -> Directive {
    match d {
        ht::Directive::If(d) => {
            let pos = Pos::new(d.span());
            let i = d.if_expr;
            Directive::If(IfDirective {
                if_expr: IfTemplateExpr {
                    strip: i.strip,
                    cond_expr: expr(i.cond_expr),
                    template: template(i.template),
                },
                else_expr: d.else_expr.map(|e| ElseTemplateExpr {
                    strip: e.strip,
                    template: template(e.template),
                }),
                endif_expr: EndifTemplateExpr {
                    strip: d.endif_expr.strip,
                },
                pos,
            })
        }
        ht::Directive::For(d) => {
            let pos = Pos::new(d.span());
            let f = d.for_expr;
            Directive::For(ForDirective {
                for_expr: ForTemplateExpr {
                    strip: f.strip,
                    key_var: f.key_var.map(ident),
                    value_var: ident(f.value_var),
                    collection_expr: expr(f.collection_expr),
                    template: template(f.template),
                },
                endfor_expr: EndforTemplateExpr {
                    strip: d.endfor_expr.strip,
                },
                pos,
            })
        }
    }
}
