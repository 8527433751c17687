//! Templates: quoted strings with `${…}` and `%{…}`, and heredocs.

use std::ops::Range;

use super::{spanned_nodes, Expression, Ident, Pos, Span, Spanned, Strip};

spanned_nodes!(
    StringTemplate,
    HeredocTemplate,
    Template,
    Interpolation,
    IfDirective,
    ForDirective,
);

/// A quoted string with interpolations or directives in it.
#[derive(Clone, Debug, PartialEq)]
pub struct StringTemplate {
    pub template: Template,
    pub(super) pos: Pos,
}

impl std::ops::Deref for StringTemplate {
    type Target = Template;
    fn deref(&self) -> &Template {
        &self.template
    }
}

/// `<<EOT … EOT` or `<<-EOT … EOT`; the template of an indented heredoc has its common
/// indent removed already.
#[derive(Clone, Debug, PartialEq)]
pub struct HeredocTemplate {
    pub delimiter: Ident,
    pub template: Template,
    pub(super) indent: Option<usize>,
    pub(super) pos: Pos,
}

impl HeredocTemplate {
    /// The indent removed from each line of a `<<-` heredoc.
    pub fn indent(&self) -> Option<usize> {
        self.indent
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Template {
    pub(super) elements: Box<[Element]>,
    pub(super) pos: Pos,
}

impl Template {
    pub fn iter(&self) -> std::slice::Iter<'_, Element> {
        self.elements.iter()
    }
    pub fn len(&self) -> usize {
        self.elements.len()
    }
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Element {
    Literal(Spanned<Box<str>>),
    Interpolation(Interpolation),
    Directive(Box<Directive>),
}

impl Element {
    /// The text of a literal element.
    pub fn as_literal(&self) -> Option<&Spanned<Box<str>>> {
        match self {
            Element::Literal(l) => Some(l),
            _ => None,
        }
    }
}

impl Span for Element {
    fn span(&self) -> Option<Range<usize>> {
        match self {
            Element::Literal(l) => l.span(),
            Element::Interpolation(i) => i.span(),
            Element::Directive(d) => d.span(),
        }
    }
}

/// `${expr}`
#[derive(Clone, Debug, PartialEq)]
pub struct Interpolation {
    pub expr: Expression,
    pub strip: Strip,
    pub(super) pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Directive {
    If(IfDirective),
    For(ForDirective),
}

impl Span for Directive {
    fn span(&self) -> Option<Range<usize>> {
        match self {
            Directive::If(d) => d.span(),
            Directive::For(d) => d.span(),
        }
    }
}

/// `%{ if … }…%{ else }…%{ endif }`
#[derive(Clone, Debug, PartialEq)]
pub struct IfDirective {
    pub if_expr: IfTemplateExpr,
    pub else_expr: Option<ElseTemplateExpr>,
    pub endif_expr: EndifTemplateExpr,
    pub(super) pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IfTemplateExpr {
    pub cond_expr: Expression,
    pub template: Template,
    pub strip: Strip,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ElseTemplateExpr {
    pub template: Template,
    pub strip: Strip,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EndifTemplateExpr {
    pub strip: Strip,
}

/// `%{ for k, v in … }…%{ endfor }`
#[derive(Clone, Debug, PartialEq)]
pub struct ForDirective {
    pub for_expr: ForTemplateExpr,
    pub endfor_expr: EndforTemplateExpr,
    pub(super) pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ForTemplateExpr {
    pub key_var: Option<Spanned<Ident>>,
    pub value_var: Spanned<Ident>,
    pub collection_expr: Expression,
    pub template: Template,
    pub strip: Strip,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EndforTemplateExpr {
    pub strip: Strip,
}
