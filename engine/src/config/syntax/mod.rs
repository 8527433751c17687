//! The configuration's syntax in a compact form: what evaluation reads of a parsed file,
//! without the layout (whitespace, comments, quoting) that only `fmt` needs.
//!
//! The parser's tree keeps every token's decoration, so a 165-byte resource block takes
//! about 5 KiB there; here it takes a sixth of that. Each file is converted as soon as it
//! is parsed, on the thread that parsed it, so the parser's trees never all exist at once.
//! The types keep the parser's names and accessors (`Expression::Traversal`,
//! `body.get_attribute("x")`, `e.span()`). A tree owns its strings; spans are byte ranges
//! in the file it was parsed from. `fmt` alone works on the parser's tree, since it
//! rewrites layout.

pub mod convert;
mod display;
mod structure;
mod template;
pub mod visit;

#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::Range;

pub use hcl_edit::expr::{BinaryOperator, UnaryOperator};
pub use hcl_edit::template::Strip;
pub use structure::{Attribute, Block, BlockLabel, Body, Structure};
pub use template::{
    Directive, Element, ElseTemplateExpr, EndforTemplateExpr, EndifTemplateExpr, ForDirective,
    ForTemplateExpr, HeredocTemplate, IfDirective, IfTemplateExpr, Interpolation, StringTemplate,
    Template,
};

/// A node that knows where it was written (the parser's trait of the same name).
pub trait Span {
    /// The byte range in the source file, if the node came from one.
    fn span(&self) -> Option<Range<usize>>;
}

/// A byte range in 8 bytes: files are read whole, and none is 4 GiB. A node built by code
/// rather than read from a file has none.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pos {
    start: u32,
    end: u32,
}

impl Pos {
    /// No position: the node was not read from a file.
    pub const NONE: Pos = Pos {
        start: u32::MAX,
        end: u32::MAX,
    };

    /// A range of a file; offsets beyond 4 GiB (which no loaded file has) have none.
    pub fn new(r: Option<Range<usize>>) -> Pos {
        match r {
            Some(r) => match (u32::try_from(r.start), u32::try_from(r.end)) {
                (Ok(start), Ok(end)) if start != u32::MAX => Pos { start, end },
                _ => Pos::NONE,
            },
            None => Pos::NONE,
        }
    }

    pub fn range(self) -> Option<Range<usize>> {
        (self != Pos::NONE).then_some(self.start as usize..self.end as usize)
    }
}

impl Default for Pos {
    fn default() -> Pos {
        Pos::NONE
    }
}

impl fmt::Debug for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.range() {
            Some(r) => write!(f, "{r:?}"),
            None => f.write_str("-"),
        }
    }
}

impl Span for Pos {
    fn span(&self) -> Option<Range<usize>> {
        self.range()
    }
}

impl<T: Span> Span for Box<T> {
    fn span(&self) -> Option<Range<usize>> {
        (**self).span()
    }
}

/// A value and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    value: T,
    pos: Pos,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Option<Range<usize>>) -> Self {
        Spanned {
            value,
            pos: Pos::new(span),
        }
    }

    pub fn value(&self) -> &T {
        &self.value
    }
}

impl<T> Span for Spanned<T> {
    fn span(&self) -> Option<Range<usize>> {
        self.pos.range()
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// A name: an attribute key, a variable, a block type, a function.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ident(Box<str>);

impl Ident {
    pub fn new(name: impl Into<Box<str>>) -> Ident {
        Ident(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An expression: 32 bytes, with anything larger than a name or a literal behind a box.
#[derive(Clone, Debug, PartialEq)]
pub enum Expression {
    Null(Spanned<()>),
    Bool(Spanned<bool>),
    /// A number as written, read at 512 bits; `None` when it is too large to represent.
    Number(Spanned<Option<mlinfra_schema::Number>>),
    String(Spanned<Box<str>>),
    Array(Box<Array>),
    Object(Box<Object>),
    StringTemplate(Box<StringTemplate>),
    HeredocTemplate(Box<HeredocTemplate>),
    Parenthesis(Box<Parenthesis>),
    Variable(Spanned<Ident>),
    Conditional(Box<Conditional>),
    FuncCall(Box<FuncCall>),
    Traversal(Box<Traversal>),
    UnaryOp(Box<UnaryOp>),
    BinaryOp(Box<BinaryOp>),
    ForExpr(Box<ForExpr>),
}

impl Expression {
    /// The text of a string literal.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Expression::String(s) => Some(s.value()),
            _ => None,
        }
    }

    /// The value of `true` or `false`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Expression::Bool(b) => Some(*b.value()),
            _ => None,
        }
    }
}

impl Span for Expression {
    fn span(&self) -> Option<Range<usize>> {
        match self {
            Expression::Null(x) => x.span(),
            Expression::Bool(x) => x.span(),
            Expression::Number(x) => x.span(),
            Expression::String(x) => x.span(),
            Expression::Array(x) => x.span(),
            Expression::Object(x) => x.span(),
            Expression::StringTemplate(x) => x.span(),
            Expression::HeredocTemplate(x) => x.span(),
            Expression::Parenthesis(x) => x.span(),
            Expression::Variable(x) => x.span(),
            Expression::Conditional(x) => x.span(),
            Expression::FuncCall(x) => x.span(),
            Expression::Traversal(x) => x.span(),
            Expression::UnaryOp(x) => x.span(),
            Expression::BinaryOp(x) => x.span(),
            Expression::ForExpr(x) => x.span(),
        }
    }
}

/// Implements [`Span`] for node structs that keep their range in a `pos` field.
macro_rules! spanned_nodes {
    ($($t:ty),* $(,)?) => {$(
        impl Span for $t {
            fn span(&self) -> Option<Range<usize>> {
                self.pos.range()
            }
        }
    )*};
}
pub(crate) use spanned_nodes;

spanned_nodes!(
    Array,
    Object,
    Parenthesis,
    Conditional,
    FuncCall,
    FuncArgs,
    Traversal,
    UnaryOp,
    BinaryOp,
    ForExpr,
    ForIntro,
    ForCond,
);

#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    values: Box<[Expression]>,
    pos: Pos,
}

impl Array {
    pub fn iter(&self) -> std::slice::Iter<'_, Expression> {
        self.values.iter()
    }
    pub fn len(&self) -> usize {
        self.values.len()
    }
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    items: Box<[(ObjectKey, ObjectValue)]>,
    pos: Pos,
}

impl Object {
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&ObjectKey, &ObjectValue)> {
        self.items.iter().map(|(k, v)| (k, v))
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ObjectKey {
    /// An unquoted name: the key is its text.
    Ident(Spanned<Ident>),
    /// Any other expression, evaluated for the key.
    Expression(Expression),
}

impl Span for ObjectKey {
    fn span(&self) -> Option<Range<usize>> {
        match self {
            ObjectKey::Ident(i) => i.span(),
            ObjectKey::Expression(e) => e.span(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObjectValue {
    expr: Expression,
}

impl ObjectValue {
    pub fn expr(&self) -> &Expression {
        &self.expr
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Parenthesis {
    inner: Expression,
    pos: Pos,
}

impl Parenthesis {
    pub fn inner(&self) -> &Expression {
        &self.inner
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Conditional {
    pub cond_expr: Expression,
    pub true_expr: Expression,
    pub false_expr: Expression,
    pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FuncName {
    /// `provider::NAME::` parts before the name, if any.
    pub namespace: Box<[Spanned<Ident>]>,
    pub name: Spanned<Ident>,
}

impl fmt::Display for FuncName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in self.namespace.iter() {
            write!(f, "{}::", part.value())?;
        }
        write!(f, "{}", self.name.value())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FuncCall {
    pub name: FuncName,
    pub args: FuncArgs,
    pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FuncArgs {
    args: Box<[Expression]>,
    expand_final: bool,
    pos: Pos,
}

impl FuncArgs {
    pub fn iter(&self) -> std::slice::Iter<'_, Expression> {
        self.args.iter()
    }
    pub fn len(&self) -> usize {
        self.args.len()
    }
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }
    /// The last argument ends with `...`: its elements are the remaining arguments.
    pub fn expand_final(&self) -> bool {
        self.expand_final
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Traversal {
    pub expr: Expression,
    pub operators: Box<[Spanned<TraversalOperator>]>,
    pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TraversalOperator {
    /// `.*`
    AttrSplat,
    /// `[*]`
    FullSplat,
    /// `.name`
    GetAttr(Ident),
    /// `[expr]`
    Index(Expression),
    /// `.0`
    LegacyIndex(u64),
}

#[derive(Clone, Debug, PartialEq)]
pub struct UnaryOp {
    pub operator: Spanned<UnaryOperator>,
    pub expr: Expression,
    pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BinaryOp {
    pub lhs_expr: Expression,
    pub operator: Spanned<BinaryOperator>,
    pub rhs_expr: Expression,
    pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ForExpr {
    pub intro: ForIntro,
    /// Present for an object `for`: `{ for k, v in x : KEY => VALUE }`.
    pub key_expr: Option<Expression>,
    pub value_expr: Expression,
    /// `...` after the value: values with one key are grouped into a list.
    pub grouping: bool,
    pub cond: Option<ForCond>,
    pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ForIntro {
    pub key_var: Option<Spanned<Ident>>,
    pub value_var: Spanned<Ident>,
    pub collection_expr: Expression,
    pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ForCond {
    pub expr: Expression,
    pos: Pos,
}

/// Parse a file's text into its compact tree.
pub fn parse_body(text: &str) -> Result<Body, hcl_edit::parser::Error> {
    hcl_edit::parser::parse_body(text).map(convert::body)
}

/// Parse one expression (a `-var` value, a console line).
pub fn parse_expr(text: &str) -> Result<Expression, hcl_edit::parser::Error> {
    hcl_edit::parser::parse_expr(text).map(convert::expr)
}

/// Parse a template file (`templatefile`).
pub fn parse_template(text: &str) -> Result<Template, hcl_edit::parser::Error> {
    hcl_edit::parser::parse_template(text).map(convert::template)
}

impl std::str::FromStr for Expression {
    type Err = hcl_edit::parser::Error;
    fn from_str(text: &str) -> Result<Expression, Self::Err> {
        parse_expr(text)
    }
}
