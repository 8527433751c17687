//! The canonical layout: only the spaces before tokens change. Three passes over the lines:
//! indentation from the brackets each line opens or closes, spacing between the tokens of
//! a line, and vertical alignment of `=` and of trailing comments across neighbouring lines.
//! This is the layout `terraform fmt` writes, so files formatted by either tool agree.

use unicode_segmentation::UnicodeSegmentation;

use super::lex::{Kind, Token};

/// One line, split into up to three cells of token indexes: `lead` (everything up to the
/// others), `assign` (from the `=` of an attribute whose value ends on this line) and
/// `comment` (a trailing comment after other tokens).
#[derive(Default)]
struct Line {
    lead: std::ops::Range<usize>,
    assign: Option<std::ops::Range<usize>>,
    comment: Option<std::ops::Range<usize>>,
}

pub fn layout(tokens: &mut [Token]) {
    let lines = lines(tokens);
    indent(tokens, &lines);
    spaces(tokens, &lines);
    align(tokens, &lines);
}

fn lines(tokens: &[Token]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.ends_line() {
            lines.push(Line {
                lead: start..i + 1,
                ..Line::default()
            });
            start = i + 1;
        }
    }
    if start < tokens.len() {
        lines.push(Line {
            lead: start..tokens.len(),
            ..Line::default()
        });
    }
    for line in &mut lines {
        let lead = line.lead.clone();
        if lead.len() > 1 && tokens[lead.end - 1].kind == Kind::Comment {
            line.comment = Some(lead.end - 1..lead.end);
            line.lead = lead.start..lead.end - 1;
        }
        let lead = line.lead.clone();
        if let Some(eq) = (lead.start + 1..lead.end).find(|&i| tokens[i].kind == Kind::Equal) {
            // Only a value that closes what it opens on this line joins the alignment.
            let net: i32 = tokens[eq..lead.end].iter().map(Token::bracket_change).sum();
            if net == 0 {
                line.assign = Some(eq..lead.end);
                line.lead = lead.start..eq;
            }
        }
    }
    lines
}

fn indent(tokens: &mut [Token], lines: &[Line]) {
    let mut stack: Vec<i32> = Vec::with_capacity(10);
    for line in lines {
        if line.lead.is_empty() {
            continue;
        }
        let first = line.lead.start;
        if tokens[first].kind == Kind::Newline {
            tokens[first].spaces_before = 0;
            continue;
        }
        let mut net = 0;
        for t in &tokens[line.lead.clone()] {
            net += t.bracket_change();
            if t.kind == Kind::OHeredoc {
                break;
            }
        }
        if let Some(assign) = &line.assign {
            net += tokens[assign.clone()]
                .iter()
                .map(Token::bracket_change)
                .sum::<i32>();
        }
        if net > 0 {
            tokens[first].spaces_before = 2 * stack.len();
            stack.push(net);
            continue;
        }
        let mut closed = -net;
        while closed > 0 {
            let Some(top) = stack.last_mut() else { break };
            if closed >= *top {
                closed -= *top;
                stack.pop();
            } else {
                *top -= closed;
                closed = 0;
            }
        }
        tokens[first].spaces_before = 2 * stack.len();
    }
}

fn spaces(tokens: &mut [Token], lines: &[Line]) {
    for line in lines {
        space_cell(tokens, line.lead.clone());
        if let Some(assign) = &line.assign {
            tokens[assign.start].spaces_before = 1;
            space_cell(tokens, assign.clone());
        }
    }
}

fn space_cell(tokens: &mut [Token], cell: std::ops::Range<usize>) {
    for i in cell.start..cell.end.saturating_sub(1) {
        let before = (i > cell.start).then(|| &tokens[i - 1]);
        let space = space_after(&tokens[i], before, &tokens[i + 1]);
        tokens[i + 1].spaces_before = usize::from(space);
    }
}

/// Whether `subject` is followed by a space, given the token `before` it (none at the start
/// of a cell) and the token `after` it.
fn space_after(subject: &Token, before: Option<&Token>, after: &Token) -> bool {
    use Kind::*;
    let (s, a) = (subject.kind, after.kind);
    let template_text = |k: Kind| matches!(k, QuotedLit | StringLit);
    if a == Newline {
        return false;
    }
    if s == Ident && a == OParen {
        return false;
    }
    if (s == Ident && a == DoubleColon) || (s == DoubleColon && a == Ident) {
        return false;
    }
    if s == Dot || a == Dot {
        return false;
    }
    if a == Comma || a == Ellipsis {
        return false;
    }
    if s == Comma {
        return true;
    }
    if template_text(s)
        || s == OQuote
        || s == OHeredoc
        || template_text(a)
        || a == CQuote
        || a == CHeredoc
    {
        return false;
    }
    if s == Ident && subject.text == "in" && before.is_some_and(|b| b.kind == Ident) {
        // `for x in [a]`: `in` is the keyword here, not a name indexed by `[a]`.
        return true;
    }
    if a == OBrack && (s == Ident || s == NumberLit || subject.bracket_change() < 0) {
        return false;
    }
    if s == Bang {
        return false;
    }
    if s == Minus {
        // Negation takes no space after it; a minus after something that cannot end an
        // expression is a negation.
        return match before.map(|b| b.kind) {
            None => false,
            Some(
                OParen | OBrace | OBrack | Equal | Colon | Comma | Question | Plus | Star | Slash
                | Percent | Minus | EqualOp | NotEqual | GreaterThan | GreaterThanEq | LessThan
                | LessThanEq | And | Or | Bang,
            ) => false,
            Some(_) => true,
        };
    }
    if s == OBrace || a == CBrace {
        return !(s == OBrace && a == CBrace);
    }
    if (s == TemplateInterp || s == TemplateControl) && a == OBrace {
        return true;
    }
    if s == CBrace && a == TemplateSeqEnd {
        return true;
    }
    if s == TemplateSeqEnd && (a == TemplateInterp || a == TemplateControl) {
        return false;
    }
    if subject.bracket_change() > 0 {
        return false;
    }
    if after.bracket_change() < 0 {
        return false;
    }
    true
}

fn columns(tokens: &[Token]) -> usize {
    tokens
        .iter()
        .map(|t| t.spaces_before + t.text.graphemes(true).count())
        .sum()
}

/// Align the `=` of consecutive assignment lines, then the trailing comments of
/// consecutive commented lines. A line without the cell ends the group.
fn align(tokens: &mut [Token], lines: &[Line]) {
    let assign_width = |tokens: &[Token], l: &Line| columns(&tokens[l.lead.clone()]);
    for group in groups(lines, |l| l.assign.is_some()) {
        let widest = group
            .iter()
            .map(|l| assign_width(tokens, l))
            .max()
            .unwrap_or(0);
        for l in group {
            let w = assign_width(tokens, l);
            if let Some(a) = &l.assign {
                tokens[a.start].spaces_before = widest - w + 1;
            }
        }
    }
    let comment_width = |tokens: &[Token], l: &Line| {
        columns(&tokens[l.lead.clone()])
            + l.assign.as_ref().map_or(0, |a| columns(&tokens[a.clone()]))
    };
    for group in groups(lines, |l| l.comment.is_some()) {
        let widest = group
            .iter()
            .map(|l| comment_width(tokens, l))
            .max()
            .unwrap_or(0);
        for l in group {
            let w = comment_width(tokens, l);
            if let Some(c) = &l.comment {
                tokens[c.start].spaces_before = widest - w + 1;
            }
        }
    }
}

fn groups(lines: &[Line], has: impl Fn(&Line) -> bool) -> Vec<&[Line]> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, l) in lines.iter().enumerate() {
        match (has(l), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(&lines[s..i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(&lines[s..]);
    }
    out
}
