//! Source files, spans and the diagnostics that point into them.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Index of a file in [`Sources`].
pub type FileId = u32;

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, range: Range<usize>) -> Span {
        Span {
            file,
            start: range.start as u32,
            end: range.end.max(range.start) as u32,
        }
    }
}

/// One loaded source file.
#[derive(Debug)]
pub struct SourceFile {
    /// Path as shown to the user (relative to the working directory where possible).
    pub display: String,
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line + 1, col + 1)
    }

    /// The text of a 1-based line, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }
}

/// Every source file read for one configuration.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, path: &Path, text: String) -> FileId {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let display = display_path(path);
        self.files.push(SourceFile {
            display,
            path: path.to_path_buf(),
            text,
            line_starts,
        });
        (self.files.len() - 1) as FileId
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id as usize]
    }

    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// `file:line:col` of a span's start.
    pub fn location(&self, span: Span) -> String {
        let file = self.get(span.file);
        let (line, col) = file.line_col(span.start as usize);
        format!("{}:{}:{}", file.display, line, col)
    }
}

fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let shown = cwd
        .as_deref()
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .unwrap_or(path);
    shown.display().to_string()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem found in a configuration, pointing at its source where it has one.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub span: Option<Span>,
    /// What the language expected at that place.
    pub expected: Option<String>,
    /// How to fix it ("did you mean …").
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            span: None,
            expected: None,
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(summary: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(summary)
        }
    }

    pub fn at(mut self, span: Option<Span>) -> Self {
        self.span = span;
        self
    }

    pub fn expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Diagnostics collected over a whole run, so a user sees every problem at once.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    /// Sort by file and position and drop exact repeats (one bad reference used twice in one spot).
    pub fn sort(&mut self) {
        self.items.sort_by_key(|d| {
            (
                d.span.map(|s| (s.file, s.start)).unwrap_or((u32::MAX, 0)),
                std::cmp::Reverse(d.severity),
            )
        });
        self.items
            .dedup_by(|a, b| a.span == b.span && a.summary == b.summary);
    }
}

/// Render one diagnostic with its location, source line and caret.
pub fn render(sources: &Sources, d: &Diagnostic, color: bool) -> String {
    let (red, yellow, blue, bold, reset) = if color {
        ("\x1b[31m", "\x1b[33m", "\x1b[34m", "\x1b[1m", "\x1b[0m")
    } else {
        ("", "", "", "", "")
    };
    let mut out = String::new();
    let (label, c) = match d.severity {
        Severity::Error => ("error", red),
        Severity::Warning => ("warning", yellow),
    };
    let _ = writeln!(
        out,
        "{bold}{c}{label}{reset}{bold}: {}{reset}",
        escape_controls(&d.summary)
    );
    if let Some(span) = d.span {
        let file = sources.get(span.file);
        let (line, col) = file.line_col(span.start as usize);
        let (end_line, end_col) = file.line_col(span.end as usize);
        let text = file.line_text(line);
        let gutter = line.to_string().len();
        let pad = " ".repeat(gutter);
        let _ = writeln!(
            out,
            "{pad}{blue}-->{reset} {}:{}:{}",
            file.display, line, col
        );
        let end = if end_line == line && end_col > col {
            end_col
        } else {
            text.chars().count() + 1
        };
        let (shown, caret_at, caret_width) = source_window(text, col, end);
        let _ = writeln!(out, "{pad} {blue}|{reset}");
        let _ = writeln!(out, "{blue}{line} |{reset} {shown}");
        let _ = writeln!(
            out,
            "{pad} {blue}|{reset} {}{c}{}{reset}",
            " ".repeat(caret_at),
            "^".repeat(caret_width)
        );
    }
    let pad = " ".repeat(
        d.span
            .map(|s| {
                sources
                    .get(s.file)
                    .line_col(s.start as usize)
                    .0
                    .to_string()
                    .len()
            })
            .unwrap_or(1),
    );
    if let Some(e) = &d.expected {
        let _ = writeln!(out, "{pad} {blue}={reset} expected: {}", escape_controls(e));
    }
    for n in &d.notes {
        let _ = writeln!(out, "{pad} {blue}={reset} note: {}", escape_controls(n));
    }
    if let Some(h) = &d.help {
        let _ = writeln!(out, "{pad} {blue}={reset} help: {}", escape_controls(h));
    }
    out
}

/// Widest source excerpt shown under a diagnostic, in characters.
const MAX_SHOWN: usize = 120;

/// `text` with control characters (other than newlines) shown as escapes, so a message
/// that quotes input cannot move the cursor, recolour or clear the terminal.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\n' => "\n".to_string(),
                '\t' => " ".to_string(),
                c if c.is_control() => c.escape_unicode().to_string(),
                c => c.to_string(),
            })
            .collect(),
    )
}

/// The part of a source line to show (control characters escaped, at most `MAX_SHOWN`
/// characters around the span), the caret's offset in it and the caret's width, for the
/// 1-based character columns `col..end`.
fn source_window(text: &str, col: usize, end: usize) -> (String, usize, usize) {
    let cells: Vec<String> = text
        .chars()
        .map(|c| match c {
            '\t' => " ".to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect();
    let width = |cs: &[String]| cs.iter().map(|c| c.chars().count()).sum::<usize>();
    let start = col.saturating_sub(1).min(cells.len());
    let stop = end.saturating_sub(1).clamp(start, cells.len());
    let caret = width(&cells[start..stop]).max(1);
    if width(&cells) <= MAX_SHOWN {
        return (cells.concat(), width(&cells[..start]), caret);
    }
    // Keep some context before the span, then as much as fits.
    let mut from = start;
    let mut before = 0;
    while from > 0 && before + cells[from - 1].chars().count() <= 30 {
        from -= 1;
        before += cells[from].chars().count();
    }
    let mut to = from;
    let mut shown = 0;
    while to < cells.len() && shown + cells[to].chars().count() <= MAX_SHOWN {
        shown += cells[to].chars().count();
        to += 1;
    }
    let lead = if from > 0 { "…" } else { "" };
    let tail = if to < cells.len() { "…" } else { "" };
    let visible_caret = caret.min(width(&cells[start.min(to)..to]).max(1));
    (
        format!("{lead}{}{tail}", cells[from..to].concat()),
        lead.chars().count() + before,
        visible_caret,
    )
}

/// The closest candidate to `name` by edit distance, if it is close enough to be a typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    let seen: Vec<&'a str> = candidates.into_iter().collect();
    for &c in &seen {
        let d = strsim::osa_distance(name, c);
        let limit = (name.chars().count().max(c.chars().count()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    // A longer or shorter spelling of the same word ("lowercase" for "lower").
    best.map(|(_, c)| c)
        .or_else(|| candidates_prefix(name, &seen))
}

/// Every candidate close to `name`: within typo distance, or a longer or shorter
/// spelling of it (`A100` and `A100-80GB` for `A100-40GB`), closest first.
pub fn close_names<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let folded = name.to_ascii_lowercase();
    let all: Vec<&'a str> = candidates.into_iter().collect();
    // The same name in other case is the one meant.
    if let Some(same) = all.iter().find(|c| c.eq_ignore_ascii_case(name)) {
        return vec![same];
    }
    let mut out: Vec<(usize, &'a str)> = all
        .into_iter()
        .filter_map(|c| {
            let lc = c.to_ascii_lowercase();
            let d = strsim::osa_distance(&folded, &lc);
            let limit = (name.chars().count().max(c.chars().count()) / 3).max(1);
            // A longer or shorter spelling that ends at a word boundary (`A100` in
            // `A100-40GB`, not `A10`).
            let (short, long) = if lc.len() <= folded.len() {
                (&lc, &folded)
            } else {
                (&folded, &lc)
            };
            let prefix = short.len() >= 2
                && long
                    .strip_prefix(short.as_str())
                    .and_then(|rest| rest.chars().next())
                    .is_some_and(|c| !c.is_alphanumeric());
            (d <= limit || prefix).then_some((d, c))
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, c)| c).collect()
}

fn candidates_prefix<'a>(name: &str, seen: &[&'a str]) -> Option<&'a str> {
    seen.iter()
        .copied()
        .filter(|c| c.len() >= 3 && name.len() >= 3 && (name.starts_with(c) || c.starts_with(name)))
        .max_by_key(|c| c.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_lists_every_near_miss() {
        let gpus = mlinfra_schema::ACCELERATORS.iter().copied();
        assert_eq!(
            close_names("A100-40GB", gpus.clone()),
            ["A100-80GB", "A100"]
        );
        assert_eq!(close_names("a100", gpus.clone()), ["A100"]);
        assert_eq!(close_names("A101", gpus.clone()), ["A10", "A100", "A10G"]);
        assert_eq!(
            close_names("H100-80GB", gpus.clone()),
            ["A100-80GB", "H100"]
        );
        assert!(close_names("TPU-v5", gpus.clone()).is_empty());
    }

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let mut s = Sources::default();
        let id = s.add(Path::new("/x/a.mlinfra.hcl"), "ab\nc\u{e9}d = 1\n".into());
        let f = s.get(id);
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(f.line_col(6), (2, 3));
        assert_eq!(f.line_text(2), "c\u{e9}d = 1");
    }

    #[test]
    fn render_points_a_caret_at_the_span() {
        let mut s = Sources::default();
        let id = s.add(
            Path::new("m.mlinfra.hcl"),
            "x {\n  acclerator = 1\n}\n".into(),
        );
        let d = Diagnostic::error("unknown attribute")
            .at(Some(Span::new(id, 6..16)))
            .help("did you mean \"accelerator\"?");
        let out = render(&s, &d, false);
        assert!(out.contains("m.mlinfra.hcl:2:3"), "{out}");
        assert!(out.contains("2 |   acclerator = 1"), "{out}");
        assert!(out.contains("  |   ^^^^^^^^^^\n"), "{out}");
    }

    #[test]
    fn suggestions_need_a_close_match() {
        assert_eq!(
            did_you_mean("acclerator", ["accelerator", "labels"]),
            Some("accelerator")
        );
        assert_eq!(did_you_mean("zzz", ["accelerator", "labels"]), None);
    }

    #[test]
    fn quoted_lines_escape_control_characters_and_long_lines_are_cut_around_the_span() {
        let (shown, at, w) = source_window("a = \"\x1b[2Jx\"", 5, 12);
        assert_eq!(shown, "a = \"\\u{1b}[2Jx\"");
        assert_eq!((at, w), (4, 12));
        let long = format!("x = \"{}\" + y", "a".repeat(5000));
        let col = long.find('y').unwrap() + 1;
        let (shown, at, w) = source_window(&long, col, col + 1);
        assert!(shown.chars().count() <= MAX_SHOWN + 2, "{}", shown.len());
        assert!(shown.starts_with('…') && shown.ends_with('y'), "{shown}");
        assert_eq!(shown.chars().nth(at), Some('y'));
        assert_eq!(w, 1);
        let (shown, at, _) = source_window(&long, 1, 2);
        assert!(shown.starts_with("x = ") && shown.ends_with('…'));
        assert_eq!(at, 0);
        assert_eq!(escape_controls("ok\nnext"), "ok\nnext");
        assert_eq!(escape_controls("bell\x07"), "bell\\u{7}");
    }
}
