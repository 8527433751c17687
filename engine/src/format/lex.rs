//! The token stream that formatting works on: HCL's native-syntax tokens, each with the
//! number of spaces written before it. Formatting changes only those counts, so the bytes
//! of every token, newlines and comments included, are kept exactly.

/// The kinds of token HCL's scanner produces. Templates are split into their delimiters
/// and literal parts, so a heredoc's body is a run of `StringLit` tokens that formatting
/// never touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    OBrace,
    CBrace,
    OBrack,
    CBrack,
    OParen,
    CParen,
    OQuote,
    CQuote,
    OHeredoc,
    CHeredoc,
    /// Literal text of a heredoc (each line with its newline).
    StringLit,
    /// Literal text of a quoted string.
    QuotedLit,
    /// A newline inside a quoted string: a syntax error, kept as written.
    QuotedNewline,
    TemplateInterp,
    TemplateControl,
    TemplateSeqEnd,
    Ident,
    NumberLit,
    /// `#` and `//` comments include their newline; `/* */` comments do not.
    Comment,
    Newline,
    Dot,
    Comma,
    Star,
    Slash,
    Percent,
    Plus,
    Minus,
    Equal,
    LessThan,
    GreaterThan,
    Bang,
    Question,
    Colon,
    EqualOp,
    NotEqual,
    GreaterThanEq,
    LessThanEq,
    And,
    Or,
    DoubleColon,
    Ellipsis,
    FatArrow,
    /// Any other character (`&`, `;`, …): invalid in HCL, kept as written.
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub text: String,
    pub spaces_before: usize,
}

impl Token {
    pub fn new(kind: Kind, text: &str) -> Token {
        Token {
            kind,
            text: text.to_string(),
            spaces_before: 0,
        }
    }

    /// A `#` or `//` comment ends its line.
    pub fn ends_line(&self) -> bool {
        match self.kind {
            Kind::Newline => true,
            Kind::Comment => self.text.ends_with('\n'),
            _ => false,
        }
    }

    /// +1 for an opening bracket (an interpolation or directive opener counts), -1 for a
    /// closing one.
    pub fn bracket_change(&self) -> i32 {
        match self.kind {
            Kind::OBrace
            | Kind::OBrack
            | Kind::OParen
            | Kind::TemplateControl
            | Kind::TemplateInterp => 1,
            Kind::CBrace | Kind::CBrack | Kind::CParen | Kind::TemplateSeqEnd => -1,
            _ => 0,
        }
    }
}

enum Mode {
    /// Expressions and structure. `braces` counts the `{` opened in this mode, so that the
    /// `}` closing an interpolation is told from one closing an object.
    Main {
        braces: usize,
        in_template: bool,
    },
    Quoted,
    Heredoc {
        marker: String,
        start_of_line: bool,
    },
}

/// Split `src` into tokens. Never fails: text the scanner does not know becomes `Other`
/// tokens, which the parser rejects before formatting starts.
pub fn lex(src: &str) -> Vec<Token> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let b = src.as_bytes();
    let mut out: Vec<Token> = Vec::new();
    let mut modes = vec![Mode::Main {
        braces: 0,
        in_template: false,
    }];
    let mut i = 0;
    let mut last_end = 0;
    let emit =
        |out: &mut Vec<Token>, kind: Kind, start: usize, end: usize, last_end: &mut usize| {
            out.push(Token {
                kind,
                text: src[start..end].to_string(),
                spaces_before: start - *last_end,
            });
            *last_end = end;
        };
    while i < b.len() {
        let mode = modes.last_mut().expect("the main mode is never popped");
        match mode {
            Mode::Main {
                braces,
                in_template,
            } => {
                let c = b[i];
                if c == b' ' || c == b'\t' {
                    i += 1;
                    continue;
                }
                let start = i;
                let rest = &b[i..];
                let (kind, len) = if c.is_ascii_digit() {
                    (Kind::NumberLit, number_len(rest))
                } else if c == b'#' || rest.starts_with(b"//") {
                    let nl = rest
                        .iter()
                        .position(|&x| x == b'\n')
                        .map_or(rest.len(), |p| p + 1);
                    (Kind::Comment, nl)
                } else if rest.starts_with(b"/*") {
                    let end = find(&rest[2..], b"*/").map_or(rest.len(), |p| p + 4);
                    (Kind::Comment, end)
                } else if c == b'\n' {
                    (Kind::Newline, 1)
                } else if rest.starts_with(b"\r\n") {
                    (Kind::Newline, 2)
                } else if c == b'"' {
                    emit(&mut out, Kind::OQuote, start, start + 1, &mut last_end);
                    i += 1;
                    modes.push(Mode::Quoted);
                    continue;
                } else if let Some((marker, len)) = heredoc_opener(&src[i..]) {
                    emit(&mut out, Kind::OHeredoc, start, start + len, &mut last_end);
                    i += len;
                    modes.push(Mode::Heredoc {
                        marker,
                        start_of_line: true,
                    });
                    continue;
                } else if c == b'{' {
                    *braces += 1;
                    (Kind::OBrace, 1)
                } else if c == b'}' || rest.starts_with(b"~}") {
                    let len = if c == b'}' { 1 } else { 2 };
                    if *braces == 0 && *in_template {
                        emit(
                            &mut out,
                            Kind::TemplateSeqEnd,
                            start,
                            start + len,
                            &mut last_end,
                        );
                        i += len;
                        modes.pop();
                        continue;
                    }
                    *braces = braces.saturating_sub(1);
                    (
                        if len == 2 {
                            Kind::TemplateSeqEnd
                        } else {
                            Kind::CBrace
                        },
                        len,
                    )
                } else if let Some((kind, len)) = operator(rest) {
                    (kind, len)
                } else if is_ident_start(src[i..].chars().next().unwrap_or(' ')) {
                    (Kind::Ident, ident_len(&src[i..]))
                } else {
                    let len = src[i..].chars().next().map_or(1, char::len_utf8);
                    (Kind::Other, len)
                };
                emit(&mut out, kind, start, start + len, &mut last_end);
                i += len;
            }
            Mode::Quoted => {
                let start = i;
                let rest = &b[i..];
                if rest[0] == b'"' {
                    emit(&mut out, Kind::CQuote, start, start + 1, &mut last_end);
                    i += 1;
                    modes.pop();
                    continue;
                }
                if let Some((kind, len)) = template_opener(rest) {
                    emit(&mut out, kind, start, start + len, &mut last_end);
                    i += len;
                    modes.push(Mode::Main {
                        braces: 0,
                        in_template: true,
                    });
                    continue;
                }
                if rest[0] == b'\n' || rest[0] == b'\r' {
                    let len = rest
                        .iter()
                        .take_while(|&&x| x == b'\n' || x == b'\r')
                        .count();
                    emit(
                        &mut out,
                        Kind::QuotedNewline,
                        start,
                        start + len,
                        &mut last_end,
                    );
                    i += len;
                    continue;
                }
                let len = literal_len(rest, true);
                emit(&mut out, Kind::QuotedLit, start, start + len, &mut last_end);
                i += len;
            }
            Mode::Heredoc {
                marker,
                start_of_line,
            } => {
                let start = i;
                let rest = &b[i..];
                if let Some((kind, len)) = template_opener(rest) {
                    *start_of_line = false;
                    emit(&mut out, kind, start, start + len, &mut last_end);
                    i += len;
                    modes.push(Mode::Main {
                        braces: 0,
                        in_template: true,
                    });
                    continue;
                }
                let len = literal_len(rest, false);
                let line_end = rest[len..].starts_with(b"\n") || rest[len..].starts_with(b"\r\n");
                if !line_end {
                    *start_of_line = false;
                    emit(&mut out, Kind::StringLit, start, start + len, &mut last_end);
                    i += len;
                    continue;
                }
                let nl = if rest[len] == b'\r' { 2 } else { 1 };
                if *start_of_line && src[start..start + len].trim() == marker {
                    emit(&mut out, Kind::CHeredoc, start, start + len, &mut last_end);
                    emit(
                        &mut out,
                        Kind::Newline,
                        start + len,
                        start + len + nl,
                        &mut last_end,
                    );
                    i += len + nl;
                    modes.pop();
                    continue;
                }
                *start_of_line = true;
                emit(
                    &mut out,
                    Kind::StringLit,
                    start,
                    start + len + nl,
                    &mut last_end,
                );
                i += len + nl;
            }
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `digit (digit | '.' | [eE][+-]?digit)*`, never ending in `.`.
fn number_len(b: &[u8]) -> usize {
    let mut i = 1;
    let mut good = 1;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            i += 1;
            good = i;
        } else if c == b'.' {
            i += 1;
        } else if (c == b'e' || c == b'E') && {
            let j = if matches!(b.get(i + 1), Some(b'+' | b'-')) {
                i + 2
            } else {
                i + 1
            };
            b.get(j).is_some_and(u8::is_ascii_digit)
        } {
            i += if matches!(b.get(i + 1), Some(b'+' | b'-')) {
                3
            } else {
                2
            };
            good = i;
        } else {
            break;
        }
    }
    good
}

/// Whether `s` is one HCL identifier (a letter or `_`, then letters, digits, `_`, `-`).
pub fn is_identifier(s: &str) -> bool {
    s.chars().next().is_some_and(is_ident_start) && ident_len(s) == s.len()
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn ident_len(s: &str) -> usize {
    s.char_indices()
        .find(|&(i, c)| i > 0 && !(c.is_alphanumeric() || c == '_' || c == '-'))
        .map_or(s.len(), |(i, _)| i)
}

/// `<<EOT` or `<<-EOT` with its newline: the marker and the opener's length.
fn heredoc_opener(s: &str) -> Option<(String, usize)> {
    let rest = s.strip_prefix("<<")?;
    let dash = usize::from(rest.starts_with('-'));
    let name = &rest[dash..];
    if !name.chars().next().is_some_and(is_ident_start) {
        return None;
    }
    let n = ident_len(name);
    let after = &name[n..];
    let nl = if after.starts_with('\n') {
        1
    } else if after.starts_with("\r\n") {
        2
    } else {
        return None;
    };
    Some((name[..n].to_string(), 2 + dash + n + nl))
}

/// `${`, `${~`, `%{` or `%{~` (not the escapes `$${` and `%%{`).
fn template_opener(b: &[u8]) -> Option<(Kind, usize)> {
    let kind = match b {
        [b'$', b'{', ..] => Kind::TemplateInterp,
        [b'%', b'{', ..] => Kind::TemplateControl,
        _ => return None,
    };
    Some((kind, if b.get(2) == Some(&b'~') { 3 } else { 2 }))
}

/// The length of literal template text from the start of `b`: up to an interpolation or
/// directive, a newline, or (quoted) the closing quote. `$${` and `%%{` are literal, and in
/// a quoted string a backslash takes the character after it.
fn literal_len(b: &[u8], quoted: bool) -> usize {
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        match rest[0] {
            b'\n' | b'\r' => break,
            b'"' if quoted => break,
            b'\\' if quoted => {
                i += 1;
                if i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                    i += utf8_len(b[i]);
                }
            }
            b'$' | b'%' => {
                if rest.len() >= 3 && rest[1] == rest[0] && rest[2] == b'{' {
                    i += 3;
                } else if rest.get(1) == Some(&b'{') {
                    break;
                } else {
                    i += 1;
                }
            }
            c => i += utf8_len(c),
        }
    }
    i.min(b.len())
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xF7 => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn operator(b: &[u8]) -> Option<(Kind, usize)> {
    let two: Option<Kind> = match b {
        [b'=', b'=', ..] => Some(Kind::EqualOp),
        [b'!', b'=', ..] => Some(Kind::NotEqual),
        [b'>', b'=', ..] => Some(Kind::GreaterThanEq),
        [b'<', b'=', ..] => Some(Kind::LessThanEq),
        [b'&', b'&', ..] => Some(Kind::And),
        [b'|', b'|', ..] => Some(Kind::Or),
        [b':', b':', ..] => Some(Kind::DoubleColon),
        [b'=', b'>', ..] => Some(Kind::FatArrow),
        _ => None,
    };
    if b.starts_with(b"...") {
        return Some((Kind::Ellipsis, 3));
    }
    if let Some(k) = two {
        return Some((k, 2));
    }
    let one = match b[0] {
        b'[' => Kind::OBrack,
        b']' => Kind::CBrack,
        b'(' => Kind::OParen,
        b')' => Kind::CParen,
        b'.' => Kind::Dot,
        b',' => Kind::Comma,
        b'*' => Kind::Star,
        b'/' => Kind::Slash,
        b'%' => Kind::Percent,
        b'+' => Kind::Plus,
        b'-' => Kind::Minus,
        b'=' => Kind::Equal,
        b'<' => Kind::LessThan,
        b'>' => Kind::GreaterThan,
        b'!' => Kind::Bang,
        b'?' => Kind::Question,
        b':' => Kind::Colon,
        b'&' | b'|' | b'~' | b'^' | b';' | b'`' | b'\'' | b'\r' => Kind::Other,
        _ => return None,
    };
    Some((one, 1))
}

/// The text of `tokens` with their spaces.
pub fn write(tokens: &[Token]) -> String {
    let mut out =
        String::with_capacity(tokens.iter().map(|t| t.text.len() + t.spaces_before).sum());
    for t in tokens {
        out.extend(std::iter::repeat_n(' ', t.spaces_before));
        out.push_str(&t.text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        lex(src).into_iter().map(|t| (t.kind, t.text)).collect()
    }

    #[test]
    fn round_trips_every_byte() {
        let src = "a = \"x ${b[\"k\"]} $${y} %%{z}\" # c\nv = [<<-EOT\n  one ${x}\n  EOT\n]\n/* c */ n = 1.5e3\n";
        assert_eq!(write(&lex(src)), src);
    }

    #[test]
    fn heredoc_closer_and_its_newline_are_two_tokens() {
        let k = kinds("v = [<<-EOT\n  a\n  EOT\n]\n");
        assert!(k.contains(&(Kind::CHeredoc, "  EOT".into())));
        let at = k.iter().position(|t| t.0 == Kind::CHeredoc).unwrap();
        assert_eq!(k[at + 1], (Kind::Newline, "\n".into()));
        assert_eq!(k[at + 2], (Kind::CBrack, "]".into()));
    }

    #[test]
    fn interpolation_braces_are_told_from_object_braces() {
        let k = kinds("a = \"${ {b = 1} }\"");
        let ends: Vec<&Kind> = k
            .iter()
            .map(|t| &t.0)
            .filter(|k| matches!(k, Kind::CBrace | Kind::TemplateSeqEnd))
            .collect();
        assert_eq!(ends, vec![&Kind::CBrace, &Kind::TemplateSeqEnd]);
    }

    #[test]
    fn numbers_stop_before_a_trailing_dot() {
        let k = kinds("a[0].b");
        assert_eq!(k[2], (Kind::NumberLit, "0".into()));
        assert_eq!(k[4], (Kind::Dot, ".".into()));
    }
}
