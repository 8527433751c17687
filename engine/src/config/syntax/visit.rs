//! Walking a tree: override the `visit_*` methods for the nodes of interest and call the
//! free function of the same name to go on into the node's children.

use super::*;

pub trait Visit {
    fn visit_body(&mut self, node: &Body) {
        visit_body(self, node)
    }
    fn visit_attr(&mut self, node: &Attribute) {
        visit_attr(self, node)
    }
    fn visit_block(&mut self, node: &Block) {
        visit_block(self, node)
    }
    fn visit_expr(&mut self, node: &Expression) {
        visit_expr(self, node)
    }
    fn visit_traversal(&mut self, node: &Traversal) {
        visit_traversal(self, node)
    }
    fn visit_func_call(&mut self, node: &FuncCall) {
        visit_func_call(self, node)
    }
    fn visit_for_expr(&mut self, node: &ForExpr) {
        visit_for_expr(self, node)
    }
    fn visit_template(&mut self, node: &Template) {
        visit_template(self, node)
    }
}

pub fn visit_body<V: Visit + ?Sized>(v: &mut V, node: &Body) {
    for s in node.iter() {
        match s {
            Structure::Attribute(a) => v.visit_attr(a),
            Structure::Block(b) => v.visit_block(b),
        }
    }
}

pub fn visit_attr<V: Visit + ?Sized>(v: &mut V, node: &Attribute) {
    v.visit_expr(&node.value)
}

pub fn visit_block<V: Visit + ?Sized>(v: &mut V, node: &Block) {
    v.visit_body(&node.body)
}

pub fn visit_expr<V: Visit + ?Sized>(v: &mut V, node: &Expression) {
    match node {
        Expression::Null(_)
        | Expression::Bool(_)
        | Expression::Number(_)
        | Expression::String(_)
        | Expression::Variable(_) => {}
        Expression::Array(a) => a.iter().for_each(|e| v.visit_expr(e)),
        Expression::Object(o) => {
            for (k, val) in o.iter() {
                if let ObjectKey::Expression(k) = k {
                    v.visit_expr(k);
                }
                v.visit_expr(val.expr());
            }
        }
        Expression::StringTemplate(t) => v.visit_template(&t.template),
        Expression::HeredocTemplate(h) => v.visit_template(&h.template),
        Expression::Parenthesis(p) => v.visit_expr(p.inner()),
        Expression::Conditional(c) => {
            v.visit_expr(&c.cond_expr);
            v.visit_expr(&c.true_expr);
            v.visit_expr(&c.false_expr);
        }
        Expression::FuncCall(f) => v.visit_func_call(f),
        Expression::Traversal(t) => v.visit_traversal(t),
        Expression::UnaryOp(u) => v.visit_expr(&u.expr),
        Expression::BinaryOp(b) => {
            v.visit_expr(&b.lhs_expr);
            v.visit_expr(&b.rhs_expr);
        }
        Expression::ForExpr(f) => v.visit_for_expr(f),
    }
}

pub fn visit_traversal<V: Visit + ?Sized>(v: &mut V, node: &Traversal) {
    v.visit_expr(&node.expr);
    for op in node.operators.iter() {
        if let TraversalOperator::Index(e) = op.value() {
            v.visit_expr(e);
        }
    }
}

pub fn visit_func_call<V: Visit + ?Sized>(v: &mut V, node: &FuncCall) {
    node.args.iter().for_each(|e| v.visit_expr(e))
}

pub fn visit_for_expr<V: Visit + ?Sized>(v: &mut V, node: &ForExpr) {
    v.visit_expr(&node.intro.collection_expr);
    if let Some(k) = &node.key_expr {
        v.visit_expr(k);
    }
    v.visit_expr(&node.value_expr);
    if let Some(c) = &node.cond {
        v.visit_expr(&c.expr);
    }
}

pub fn visit_template<V: Visit + ?Sized>(v: &mut V, node: &Template) {
    for el in node.iter() {
        match el {
            Element::Literal(_) => {}
            Element::Interpolation(i) => v.visit_expr(&i.expr),
            Element::Directive(d) => match &**d {
                Directive::If(d) => {
                    v.visit_expr(&d.if_expr.cond_expr);
                    v.visit_template(&d.if_expr.template);
                    if let Some(e) = &d.else_expr {
                        v.visit_template(&e.template);
                    }
                }
                Directive::For(d) => {
                    v.visit_expr(&d.for_expr.collection_expr);
                    v.visit_template(&d.for_expr.template);
                }
            },
        }
    }
}
