//! Bodies: attributes and blocks.

use std::ops::Range;

use super::{spanned_nodes, Expression, Ident, Pos, Span, Spanned};

spanned_nodes!(Body, Attribute, Block);

/// The attributes and blocks of a file or of a block, in the order written.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Body {
    pub(super) structures: Vec<Structure>,
    pub(super) pos: Pos,
}

impl Body {
    pub fn new() -> Body {
        Body::default()
    }

    pub fn push(&mut self, s: Structure) {
        self.structures.push(s);
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Structure> {
        self.structures.iter()
    }

    pub fn len(&self) -> usize {
        self.structures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.structures.is_empty()
    }

    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> {
        self.iter().filter_map(Structure::as_attribute)
    }

    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.iter().filter_map(Structure::as_block)
    }

    /// The first attribute named `key`.
    pub fn get_attribute(&self, key: &str) -> Option<&Attribute> {
        self.attributes().find(|a| a.key.as_str() == key)
    }

    /// The blocks of type `ident`.
    pub fn get_blocks<'a>(&'a self, ident: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks().filter(move |b| b.ident.as_str() == ident)
    }
}

impl IntoIterator for Body {
    type Item = Structure;
    type IntoIter = std::vec::IntoIter<Structure>;
    fn into_iter(self) -> Self::IntoIter {
        self.structures.into_iter()
    }
}

impl<'a> IntoIterator for &'a Body {
    type Item = &'a Structure;
    type IntoIter = std::slice::Iter<'a, Structure>;
    fn into_iter(self) -> Self::IntoIter {
        self.structures.iter()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Structure {
    Attribute(Attribute),
    Block(Box<Block>),
}

impl Structure {
    pub fn as_attribute(&self) -> Option<&Attribute> {
        match self {
            Structure::Attribute(a) => Some(a),
            Structure::Block(_) => None,
        }
    }

    pub fn as_block(&self) -> Option<&Block> {
        match self {
            Structure::Block(b) => Some(b),
            Structure::Attribute(_) => None,
        }
    }
}

impl Span for Structure {
    fn span(&self) -> Option<Range<usize>> {
        match self {
            Structure::Attribute(a) => a.span(),
            Structure::Block(b) => b.span(),
        }
    }
}

/// `key = value`
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub key: Spanned<Ident>,
    pub value: Expression,
    pub(super) pos: Pos,
}

/// `ident "label" { body }`
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub ident: Spanned<Ident>,
    pub labels: Box<[BlockLabel]>,
    pub body: Body,
    pub(super) pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub enum BlockLabel {
    /// A bare name.
    Ident(Spanned<Ident>),
    /// A quoted string.
    String(Spanned<Box<str>>),
}

impl BlockLabel {
    pub fn as_str(&self) -> &str {
        match self {
            BlockLabel::Ident(i) => i.as_str(),
            BlockLabel::String(s) => s,
        }
    }
}

impl Span for BlockLabel {
    fn span(&self) -> Option<Range<usize>> {
        match self {
            BlockLabel::Ident(i) => i.span(),
            BlockLabel::String(s) => s.span(),
        }
    }
}
