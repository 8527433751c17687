//! Parsing manifest files: syntax errors as diagnostics, the nesting limit, files on
//! every core.

use super::*;

/// Parse the files `ids`, on as many threads as there are cores (and files), in order.
pub(super) fn parse_all(
    sources: &Sources,
    ids: &[FileId],
) -> Vec<(FileId, Result<Body, Diagnostic>)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(ids.len());
    if threads <= 1 {
        return ids
            .iter()
            .map(|&id| (id, parse_source(sources, id)))
            .collect();
    }
    // Largest files first, dealt round-robin, so the threads finish together.
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sources.get(ids[i]).text.len()));
    let mut results: Vec<Option<Result<Body, Diagnostic>>> = (0..ids.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mine: Vec<usize> = order.iter().copied().skip(t).step_by(threads).collect();
                // The main thread's stack size: the parser recurses once per nesting level.
                std::thread::Builder::new()
                    .stack_size(8 << 20)
                    .spawn_scoped(scope, move || {
                        mine.into_iter()
                            .map(|i| (i, parse_source(sources, ids[i])))
                            .collect::<Vec<_>>()
                    })
            })
            .collect();
        for h in handles {
            let Ok(h) = h else { continue };
            match h.join() {
                Ok(parsed) => {
                    for (i, r) in parsed {
                        results[i] = Some(r);
                    }
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    ids.iter()
        .zip(results)
        .map(|(&id, r)| (id, r.unwrap_or_else(|| parse_source(sources, id))))
        .collect()
}

/// Parse one source file, turning a syntax error into a diagnostic.
pub fn parse_source(sources: &Sources, id: FileId) -> Result<Body, Diagnostic> {
    let file = sources.get(id);
    if file.text.contains('\0') {
        let at = file.text.find('\0').unwrap_or(0);
        return Err(
            Diagnostic::error("file contains a NUL byte; it is not a text manifest")
                .at(Some(Span::new(id, at..at + 1)))
                .expected("HCL text")
                .help("remove binary files from the configuration directory"),
        );
    }
    if let Some(at) = too_deep(&file.text) {
        return Err(
            Diagnostic::error(format!("brackets nest deeper than {MAX_NESTING} levels"))
                .at(Some(Span::new(id, at..at + 1)))
                .expected(format!("at most {MAX_NESTING} nested (, [ or {{"))
                .help("flatten the expression; use locals for intermediate values"),
        );
    }
    crate::config::syntax::parse_body(&file.text).map_err(|e| {
        let loc = e.location();
        let offset = loc.offset();
        Diagnostic::error(format!("syntax error: {}", first_line(e.message())))
            .at(Some(Span::new(id, offset..offset + 1)))
            .expected(expected_from_parse_error(e.message()))
            .help("check for a missing closing brace, quote or `=` near this position")
    })
}

pub(super) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

pub(super) fn expected_from_parse_error(msg: &str) -> String {
    msg.lines()
        .find_map(|l| l.strip_prefix("expected "))
        .map(|s| s.to_string())
        .unwrap_or_else(|| {
            "valid HCL: `name = value` attributes and `type \"label\" { … }` blocks".into()
        })
}

/// Deepest bracket nesting accepted; the parser recurses per level.
pub const MAX_NESTING: usize = 256;

/// The offset where bracket nesting first exceeds [`MAX_NESTING`], if it does. Only
/// brackets the parser nests on count: those in code and in `${…}`/`%{…}` inside
/// strings and heredocs, not those in string text or comments.
pub(super) fn too_deep(text: &str) -> Option<usize> {
    #[derive(PartialEq)]
    enum Mode {
        /// Code, with the brackets opened at this level (to find the `}` that ends an
        /// interpolation).
        Code(usize),
        Str,
        Heredoc(String),
    }
    let b = text.as_bytes();
    let mut stack = vec![Mode::Code(0)];
    let mut depth = 0usize;
    let mut i = 0;
    let mut line_start = true;
    while i < b.len() {
        let c = b[i];
        let at_line_start = line_start;
        line_start = c == b'\n';
        let nested = stack.len() > 1;
        let mut template = false;
        match stack.last_mut() {
            Some(Mode::Code(open)) => match c {
                b'#' => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'/' if b.get(i + 1) == Some(&b'/') => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'/' if b.get(i + 1) == Some(&b'*') => {
                    i += 2;
                    while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                        i += 1;
                    }
                    i += 2;
                    continue;
                }
                b'"' => stack.push(Mode::Str),
                b'<' if b.get(i + 1) == Some(&b'<') => {
                    // `<<EOT` / `<<-EOT` up to the end of the line.
                    let mut j = i + 2;
                    if b.get(j) == Some(&b'-') {
                        j += 1;
                    }
                    let start = j;
                    while j < b.len()
                        && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-')
                    {
                        j += 1;
                    }
                    let marker = &text[start..j];
                    let eol = b.get(j) == Some(&b'\n')
                        || (b.get(j) == Some(&b'\r') && b.get(j + 1) == Some(&b'\n'));
                    if !marker.is_empty() && eol {
                        stack.push(Mode::Heredoc(marker.to_string()));
                        i = j;
                        continue;
                    }
                }
                b'(' | b'[' | b'{' => {
                    *open += 1;
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Some(i);
                    }
                }
                b')' | b']' => {
                    *open = open.saturating_sub(1);
                    depth = depth.saturating_sub(1);
                }
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if *open == 0 && nested {
                        // The end of an interpolation: back into its string or heredoc.
                        stack.pop();
                    } else {
                        *open = open.saturating_sub(1);
                    }
                }
                _ => {}
            },
            Some(Mode::Str) => match c {
                b'\\' => i += 1,
                b'"' | b'\n' => {
                    stack.pop();
                }
                _ => template = true,
            },
            Some(Mode::Heredoc(marker)) => {
                if at_line_start {
                    let end = text[i..].find('\n').map(|e| i + e).unwrap_or(b.len());
                    if text[i..end].trim() == marker.as_str() {
                        stack.pop();
                        i = end;
                        continue;
                    }
                }
                template = true;
            }
            None => break,
        }
        // In string or heredoc text: `${`/`%{` opens an interpolation (`$${` is literal).
        if template && matches!(c, b'$' | b'%') {
            if b.get(i + 1) == Some(&c) && b.get(i + 2) == Some(&b'{') {
                i += 2;
            } else if b.get(i + 1) == Some(&b'{') {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
                stack.push(Mode::Code(0));
                i += 1;
            }
        }
        i += 1;
    }
    None
}
