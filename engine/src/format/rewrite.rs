//! The rewrites `terraform fmt` makes beyond layout, each one keeping the meaning:
//! - an attribute whose whole value is one interpolation, `"${var.x}"`, becomes `var.x`
//!   (in parentheses when it spans lines);
//! - in a `variable` block, `type = "string"`, `"list"` and `"map"` (the pre-0.12 quoted
//!   forms) become `string`, `list(string)` and `map(string)`, and a bare `list`, `map` or
//!   `set` becomes `list(any)`, …;
//! - block labels are quoted: `resource bucket data {` becomes `resource "bucket" "data" {`,
//!   and comments between labels are dropped.

use super::lex::{Kind, Token};

pub fn rewrite(tokens: Vec<Token>) -> Vec<Token> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut w = Walker { t: &tokens, i: 0 };
    w.body(&mut Vec::new(), &mut out);
    out.extend(tokens[w.i..].iter().cloned());
    out
}

struct Walker<'a> {
    t: &'a [Token],
    i: usize,
}

impl Walker<'_> {
    fn kind(&self, i: usize) -> Option<Kind> {
        self.t.get(i).map(|t| t.kind)
    }

    /// Copy a body's items to `out`, rewriting them; stops before the `}` that closes it.
    fn body(&mut self, path: &mut Vec<String>, out: &mut Vec<Token>) {
        while let Some(k) = self.kind(self.i) {
            match k {
                Kind::CBrace => return,
                Kind::Ident if self.kind(self.i + 1) == Some(Kind::Equal) => {
                    let name = self.t[self.i].text.clone();
                    out.extend(self.t[self.i..self.i + 2].iter().cloned());
                    self.i += 2;
                    let end = self.expression_end(self.i);
                    let value = &self.t[self.i..end];
                    let rewritten = if path.len() == 1 && path[0] == "variable" && name == "type" {
                        type_expr(value)
                    } else {
                        value_expr(value)
                    };
                    match rewritten {
                        Some(mut new) => {
                            if let Some(first) = new.first_mut() {
                                first.spaces_before = value.first().map_or(1, |v| v.spaces_before);
                            }
                            out.extend(new);
                        }
                        None => out.extend(value.iter().cloned()),
                    }
                    self.i = end;
                }
                Kind::Ident => {
                    if !self.block(path, out) {
                        // Not an item this walk understands: copy the rest of the line.
                        self.copy_line(out);
                    }
                }
                _ => {
                    out.push(self.t[self.i].clone());
                    self.i += 1;
                }
            }
        }
    }

    /// A block `TYPE LABEL* { BODY }`. Returns false, copying nothing, when the tokens do
    /// not have that shape.
    fn block(&mut self, path: &mut Vec<String>, out: &mut Vec<Token>) -> bool {
        let start = self.i;
        let mut j = start + 1;
        let mut labels: Vec<Vec<Token>> = Vec::new();
        loop {
            match self.kind(j) {
                Some(Kind::Ident) => {
                    let t = &self.t[j];
                    labels.push(vec![
                        Token {
                            kind: Kind::OQuote,
                            text: "\"".into(),
                            spaces_before: 1,
                        },
                        Token::new(Kind::QuotedLit, &t.text),
                        Token::new(Kind::CQuote, "\""),
                    ]);
                    j += 1;
                }
                Some(Kind::OQuote) => {
                    let close = (j + 1..self.t.len()).find(|&k| self.t[k].kind == Kind::CQuote);
                    let Some(close) = close else { return false };
                    if self.t[j + 1..close]
                        .iter()
                        .any(|t| t.kind != Kind::QuotedLit)
                    {
                        return false;
                    }
                    let mut label: Vec<Token> = self.t[j..=close].to_vec();
                    label[0].spaces_before = 1;
                    labels.push(label);
                    j = close + 1;
                }
                Some(Kind::Comment) if !self.t[j].ends_line() => j += 1,
                Some(Kind::OBrace) => break,
                _ => return false,
            }
        }
        out.push(self.t[start].clone());
        out.extend(labels.into_iter().flatten());
        let mut brace = self.t[j].clone();
        brace.spaces_before = 1;
        out.push(brace);
        self.i = j + 1;
        path.push(self.t[start].text.clone());
        self.body(path, out);
        path.pop();
        if self.kind(self.i) == Some(Kind::CBrace) {
            out.push(self.t[self.i].clone());
            self.i += 1;
        }
        true
    }

    fn copy_line(&mut self, out: &mut Vec<Token>) {
        let end = self.expression_end(self.i);
        out.extend(self.t[self.i..end].iter().cloned());
        self.i = end;
        if self.i == end && self.kind(self.i).is_some_and(|k| k != Kind::CBrace) {
            out.push(self.t[self.i].clone());
            self.i += 1;
        }
    }

    /// The end of the expression starting at `from`: the newline, line comment or `}` of
    /// the enclosing body, at bracket depth zero.
    fn expression_end(&self, from: usize) -> usize {
        let mut depth = 0i32;
        let mut i = from;
        while let Some(t) = self.t.get(i) {
            match t.kind {
                Kind::OQuote | Kind::OHeredoc => depth += 1,
                Kind::CQuote | Kind::CHeredoc => depth -= 1,
                _ => depth += t.bracket_change(),
            }
            if depth < 0 || (depth == 0 && t.ends_line()) {
                return i;
            }
            i += 1;
        }
        i
    }
}

/// `"${ EXPR }"` as the whole value becomes `EXPR`, when nothing else is in the string.
fn value_expr(tokens: &[Token]) -> Option<Vec<Token>> {
    use Kind::*;
    let n = tokens.len();
    if n < 5
        || tokens[0].kind != OQuote
        || tokens[1].kind != TemplateInterp
        || tokens[n - 2].kind != TemplateSeqEnd
        || tokens[n - 1].kind != CQuote
    {
        return None;
    }
    let inside = &tokens[2..n - 2];
    let mut quotes = 0;
    for t in inside {
        match t.kind {
            OQuote => quotes += 1,
            CQuote => quotes -= 1,
            _ if quotes > 0 => {}
            TemplateInterp | TemplateSeqEnd | QuotedLit => return None,
            _ => {}
        }
    }
    let first = inside.iter().position(|t| t.kind != Newline)?;
    let last = inside.iter().rposition(|t| t.kind != Newline)?;
    let trimmed = &inside[first..=last];
    let multi_line = trimmed.iter().any(|t| t.kind == Newline);
    let parens = trimmed[0].kind == OParen && trimmed[trimmed.len() - 1].kind == CParen;
    let mut out: Vec<Token> = Vec::with_capacity(trimmed.len() + 2);
    if multi_line && !parens {
        out.push(Token::new(OParen, "("));
        out.extend(trimmed.iter().cloned());
        out.push(Token::new(CParen, ")"));
    } else {
        out.extend(trimmed.iter().cloned());
    }
    Some(out)
}

fn type_expr(tokens: &[Token]) -> Option<Vec<Token>> {
    use Kind::*;
    let ident = |s: &str| Token::new(Ident, s);
    let call = |name: &str, arg: &str| {
        vec![
            ident(name),
            Token::new(OParen, "("),
            ident(arg),
            Token::new(CParen, ")"),
        ]
    };
    match tokens {
        [t] if t.kind == Ident && matches!(t.text.as_str(), "list" | "map" | "set") => {
            Some(call(&t.text, "any"))
        }
        [o, s, c] if o.kind == OQuote && s.kind == QuotedLit && c.kind == CQuote => {
            match s.text.as_str() {
                "string" => Some(vec![ident("string")]),
                "list" | "map" => Some(call(&s.text, "string")),
                _ => None,
            }
        }
        _ => None,
    }
}
