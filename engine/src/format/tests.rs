use super::lex::{lex, write, Kind};
use super::*;

#[derive(serde::Deserialize)]
struct Case {
    input: String,
    want: String,
}

/// The layout cases `terraform fmt` is built on (HCL's own formatter tests, MPL-2.0),
/// fragments included, so they go through the layout alone.
#[test]
fn layout_matches_the_reference_cases() {
    let cases: Vec<Case> =
        serde_json::from_str(include_str!("testdata/layout_cases.json")).unwrap();
    assert!(cases.len() > 50);
    let mut failed = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let got = layout_only(&c.input);
        if got != c.want {
            failed.push(format!(
                "case {i}:\n--- input\n{}\n--- want\n{}\n--- got\n{got}",
                c.input, c.want
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases differ:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

/// The files of the published modules under `testdata/modules`: (path there, text).
pub(crate) fn module_fixtures() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/format/testdata/modules");
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "tf") {
                let name = p.strip_prefix(&root).unwrap().display().to_string();
                out.push((name, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Files of published modules, each as `terraform fmt` leaves it (their projects check
/// this on every change), are left exactly as they are.
#[test]
fn published_modules_are_left_as_they_are() {
    let files = module_fixtures();
    assert!(files.len() >= 8, "{} fixtures", files.len());
    for (name, text) in &files {
        let out = format_source(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        if out != *text {
            let d = similar::TextDiff::from_lines(text.as_str(), out.as_str());
            panic!("{name} changed:\n{}", d.unified_diff().context_radius(2));
        }
    }
}

/// Tokens whose leading spaces are layout, not text: outside strings and heredocs.
fn is_layout_space(prev: Option<Kind>, kind: Kind) -> bool {
    use Kind::*;
    let text = |k: Kind| matches!(k, QuotedLit | StringLit | CQuote | CHeredoc | QuotedNewline);
    let opens_text = |k: Kind| {
        matches!(
            k,
            OQuote | OHeredoc | QuotedLit | StringLit | TemplateSeqEnd | CHeredoc
        )
    };
    !text(kind)
        && !matches!(kind, TemplateInterp | TemplateControl)
        && !prev.is_some_and(opens_text)
}

/// The same files with their layout destroyed (indents, alignment and spacing replaced by
/// pseudo-random runs of spaces) come back exactly.
#[test]
fn published_modules_come_back_from_a_scrambled_layout() {
    let mut seed: u64 = 0x5eed;
    for (name, text) in module_fixtures() {
        let mut tokens = lex(&text);
        let mut prev = None;
        let mut line_start = true;
        for t in &mut tokens {
            if is_layout_space(prev, t.kind) && (line_start || t.spaces_before > 0) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = (seed >> 60) as usize % 5;
                t.spaces_before = if line_start { r } else { 1 + r };
            }
            prev = Some(t.kind);
            line_start = t.ends_line();
        }
        let scrambled = write(&tokens);
        assert_ne!(scrambled, text, "{name}: the scramble changed nothing");
        let out = format_source(&scrambled).unwrap_or_else(|e| panic!("{name}: {e}"));
        if out != text {
            let d = similar::TextDiff::from_lines(text.as_str(), out.as_str());
            panic!(
                "{name} did not come back:\n{}",
                d.unified_diff().context_radius(2)
            );
        }
    }
}

#[test]
fn a_heredoc_in_a_list_keeps_its_marker_alone_on_its_line() {
    let src = "x = {\nvalues = [<<-EOT\n    replicas: 2\n    EOT\n]\n}\n";
    let out = format_source(src).unwrap();
    assert_eq!(
        out,
        "x = {\n  values = [<<-EOT\n    replicas: 2\n    EOT\n  ]\n}\n"
    );
    assert_eq!(format_source(&out).unwrap(), out);
}

#[test]
fn comments_blank_lines_and_one_line_blocks_are_kept() {
    let src = "/*   a\n      block comment\n*/\nlocals {\n  a = 1\n\n\n  long_name = 2 # two\n  b    = 3      # three\n  x { y = 1 }\n  m = {\n    \"k\" : v\n  }\n}\n";
    let out = format_source(src).unwrap();
    assert_eq!(
        out,
        "/*   a\n      block comment\n*/\nlocals {\n  a = 1\n\n\n  long_name = 2 # two\n  b         = 3 # three\n  x { y = 1 }\n  m = {\n    \"k\" : v\n  }\n}\n"
    );
}

#[test]
fn continuation_lines_are_reindented_and_spacing_normalised() {
    let src = "bucket \"b\" {\nname = join(\"-\",\n      [var.a,\n    var.b])\ntags = {Name=\"x\"}\n  n = slice(x,0,3)\n}\n";
    assert_eq!(
        format_source(src).unwrap(),
        "bucket \"b\" {\n  name = join(\"-\",\n    [var.a,\n  var.b])\n  tags = { Name = \"x\" }\n  n    = slice(x, 0, 3)\n}\n"
    );
}

#[test]
fn the_rewrites_of_terraform_fmt() {
    let cases = [
        ("a = \"${var.x}\"\n", "a = var.x\n"),
        ("a = \"${var.x}-y\"\n", "a = \"${var.x}-y\"\n"),
        ("a = \"${a}${b}\"\n", "a = \"${a}${b}\"\n"),
        ("a = \"${f(\"${b}\")}\"\n", "a = f(\"${b}\")\n"),
        ("a = \"${\n  x ? 1 : 2\n}\"\n", "a = x ? 1 : 2\n"),
        ("a = \"${x ?\n1 : 2}\"\n", "a = (x ?\n1 : 2)\n"),
        (
            "variable \"v\" {\n  type = \"string\"\n}\n",
            "variable \"v\" {\n  type = string\n}\n",
        ),
        (
            "variable \"v\" {\n  type = \"list\"\n}\n",
            "variable \"v\" {\n  type = list(string)\n}\n",
        ),
        (
            "variable \"v\" {\n  type = map\n}\n",
            "variable \"v\" {\n  type = map(any)\n}\n",
        ),
        ("locals {\n  type = map\n}\n", "locals {\n  type = map\n}\n"),
        ("bucket data /* c */ {\n}\n", "bucket \"data\" {\n}\n"),
    ];
    for (src, want) in cases {
        assert_eq!(format_source(src).unwrap(), want, "{src}");
    }
}

#[test]
fn input_that_does_not_parse_is_refused_with_its_position() {
    let e = format_source("a = [1,\nb = 2\n").unwrap_err();
    let FormatError::Parse { line, column, .. } = e else {
        panic!("{e:?}")
    };
    assert_eq!((line, column), (2, 3));
}

#[test]
fn formatting_is_idempotent_on_the_examples() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut n = 0;
    let mut dirs = vec![root];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.to_string_lossy().ends_with(".mlinfra.hcl") {
                let text = std::fs::read_to_string(&p).unwrap();
                let once = format_source(&text).unwrap();
                assert_eq!(format_source(&once).unwrap(), once, "{}", p.display());
                n += 1;
            }
        }
    }
    assert!(n > 5);
}
