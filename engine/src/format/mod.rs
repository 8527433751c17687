//! `fmt`: the canonical layout of manifests, the one `terraform fmt` writes.
//!
//! The source is split into tokens ([`lex`]); the few rewrites `terraform fmt` makes are
//! applied to the tokens ([`rewrite`]); then only the spaces before tokens are changed
//! ([`layout`]). The result is checked before it is returned: it must parse, and it must
//! hold exactly the rewritten tokens, newlines, comments and heredoc lines included. So a
//! layout mistake can only ever be refused, never written.

mod layout;
pub mod lex;
mod rewrite;

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The input does not parse: where, and the parser's message with the line quoted.
    Parse {
        line: usize,
        column: usize,
        message: String,
    },
    /// The formatted text would not mean what the input meant. This is a fault of the
    /// formatter; the file is left as it is.
    Unsafe(String),
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Parse { message, .. } => write!(f, "{message}"),
            FormatError::Unsafe(m) => write!(
                f,
                "{m}\nThe file is left unchanged. This is a fault in mlinfra fmt; please report it with the file."
            ),
        }
    }
}

/// Format a manifest's text.
pub fn format_source(text: &str) -> Result<String, FormatError> {
    hcl_edit::parser::parse_body(text).map_err(|e| FormatError::Parse {
        line: e.location().line(),
        column: e.location().column(),
        message: e.to_string(),
    })?;
    let mut tokens = rewrite::rewrite(lex::lex(text));
    let expected: Vec<(lex::Kind, String)> =
        tokens.iter().map(|t| (t.kind, t.text.clone())).collect();
    layout::layout(&mut tokens);
    let out = lex::write(&tokens);
    if let Err(e) = hcl_edit::parser::parse_body(&out) {
        return Err(FormatError::Unsafe(format!(
            "the formatted text would not parse: {e}"
        )));
    }
    let relexed = lex::lex(&out);
    let same = relexed.len() == expected.len()
        && relexed
            .iter()
            .zip(&expected)
            .all(|(t, (k, s))| t.kind == *k && t.text == *s);
    if !same {
        let at = relexed
            .iter()
            .zip(&expected)
            .position(|(t, (k, s))| t.kind != *k || t.text != *s)
            .unwrap_or(relexed.len().min(expected.len()));
        return Err(FormatError::Unsafe(format!(
            "the formatted text would read differently from token {at} on"
        )));
    }
    Ok(out)
}

/// The layout alone, on any token sequence (an expression, a fragment): no parse and no
/// rewrites. The fixture tests use it on the layout cases `terraform fmt` is built on.
pub fn layout_only(text: &str) -> String {
    let mut tokens = lex::lex(text);
    layout::layout(&mut tokens);
    lex::write(&tokens)
}

#[cfg(test)]
pub(crate) mod tests;
