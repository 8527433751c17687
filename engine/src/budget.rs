//! Bounded evaluation: a budget of expression steps, collection elements and string
//! bytes for one evaluation, and a size cap on every file read, so `validate` of an
//! untrusted change cannot exhaust the machine it runs on.
//!
//! The limits are process-wide (set once by the CLI from `--limit`); the usage is counted
//! per thread and reset at the start of each evaluation.

use std::cell::Cell;
use std::sync::RwLock;

use mlinfra_schema::Value;

/// The limits of one evaluation, and of one file read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Expressions evaluated, for-expression iterations and template loop rounds.
    pub steps: u64,
    /// Values created: list and map elements, copies of referenced values included.
    pub elements: u64,
    /// Bytes of strings created by templates and functions.
    pub string_bytes: u64,
    /// The largest file read: manifests, variables files, `file()`, `templatefile()`.
    pub file_bytes: u64,
}

impl Limits {
    /// Generous for real configurations (a 100,000-resource plan uses a small fraction),
    /// small enough that one evaluation stays within about 2 GB of memory.
    pub const DEFAULT: Limits = Limits {
        steps: 50_000_000,
        elements: 20_000_000,
        string_bytes: 256 * 1024 * 1024,
        file_bytes: 32 * 1024 * 1024,
    };

    /// The names `--limit NAME=VALUE` takes, with what each bounds.
    pub const NAMES: &'static [(&'static str, &'static str)] = &[
        ("steps", "expressions evaluated and loop iterations"),
        ("elements", "list and map elements created"),
        ("string-bytes", "bytes of strings created"),
        ("file-bytes", "size of one file read"),
    ];

    /// Set one limit by name; `value` takes k/M/G (×1000) and KiB/MiB/GiB (×1024).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let v = parse_amount(value).ok_or_else(|| {
            format!("\"{value}\" is not an amount; use a whole number, optionally with k, M, G, KiB, MiB or GiB")
        })?;
        match name {
            "steps" => self.steps = v,
            "elements" => self.elements = v,
            "string-bytes" => self.string_bytes = v,
            "file-bytes" => self.file_bytes = v,
            other => {
                let names: Vec<&str> = Self::NAMES.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "unknown limit \"{other}\"; limits are {}",
                    names.join(", ")
                ));
            }
        }
        Ok(())
    }
}

fn parse_amount(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.replace('_', "").parse().ok()?;
    let factor: u64 = match unit {
        "" => 1,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor)
}

static LIMITS: RwLock<Limits> = RwLock::new(Limits::DEFAULT);

/// Set the limits of every evaluation in this process.
pub fn set_limits(l: Limits) {
    if let Ok(mut g) = LIMITS.write() {
        *g = l;
    }
}

/// The limits in force.
pub fn limits() -> Limits {
    LIMITS.read().map(|g| *g).unwrap_or(Limits::DEFAULT)
}

/// What ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overrun {
    Steps,
    Elements,
    StringBytes,
}

impl Overrun {
    /// How the overrun reads in a diagnostic, with the limit and the flag that raises it.
    pub fn describe(self) -> (String, String) {
        let l = limits();
        match self {
            Overrun::Steps => (
                format!("evaluation took more than {} steps", l.steps),
                "steps".into(),
            ),
            Overrun::Elements => (
                format!(
                    "evaluation built more than {} list and map elements",
                    l.elements
                ),
                "elements".into(),
            ),
            Overrun::StringBytes => (
                format!(
                    "evaluation built more than {} bytes of strings",
                    l.string_bytes
                ),
                "string-bytes".into(),
            ),
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Used {
    steps: u64,
    elements: u64,
    bytes: u64,
    /// Whether an overrun was reported already: one diagnostic per evaluation.
    reported: bool,
    /// The first overrun of the evaluation.
    overrun: Option<Overrun>,
}

thread_local! {
    static USED: Cell<Used> = const { Cell::new(Used { steps: 0, elements: 0, bytes: 0, reported: false, overrun: None }) };
    /// The limits of the evaluation in progress, copied at its start.
    static CURRENT: Cell<Limits> = const { Cell::new(Limits::DEFAULT) };
}

/// Start counting a new evaluation, under the limits in force now.
pub fn reset() {
    USED.with(|u| u.set(Used::default()));
    CURRENT.with(|c| c.set(limits()));
}

fn charge(steps: u64, elements: u64, bytes: u64) -> Result<(), Overrun> {
    USED.with(|u| {
        let mut x = u.get();
        x.steps = x.steps.saturating_add(steps);
        x.elements = x.elements.saturating_add(elements);
        x.bytes = x.bytes.saturating_add(bytes);
        let l = CURRENT.with(Cell::get);
        let over = if x.steps > l.steps {
            Some(Overrun::Steps)
        } else if x.elements > l.elements {
            Some(Overrun::Elements)
        } else if x.bytes > l.string_bytes {
            Some(Overrun::StringBytes)
        } else {
            None
        };
        if over.is_some() && x.overrun.is_none() {
            x.overrun = over;
        }
        u.set(x);
        over.map_or(Ok(()), Err)
    })
}

/// What the evaluation in progress (or the last one) used: steps, elements, string bytes.
pub fn used() -> (u64, u64, u64) {
    USED.with(|u| {
        let x = u.get();
        (x.steps, x.elements, x.bytes)
    })
}

/// The first overrun of the evaluation in progress, if the budget ran out.
pub fn overrun() -> Option<Overrun> {
    USED.with(|u| u.get().overrun)
}

/// One expression step.
pub fn step() -> Result<(), Overrun> {
    charge(1, 0, 0)
}

/// A value built or copied: its elements and string bytes.
pub fn value(v: &Value) -> Result<(), Overrun> {
    let (elements, bytes) = weight(v);
    charge(0, elements, bytes)
}

/// Elements and bytes about to be built, checked before building them.
pub fn reserve(elements: u64, bytes: u64) -> Result<(), Overrun> {
    charge(0, elements, bytes)
}

/// The message of a function whose result would overrun the budget.
pub fn function_overrun(o: Overrun, adds: &str) -> String {
    let l = limits();
    let (limit, name) = match o {
        Overrun::Steps => (format!("{} steps", l.steps), "steps"),
        Overrun::Elements => (format!("{} list and map elements", l.elements), "elements"),
        Overrun::StringBytes => (
            format!("{} bytes of strings", l.string_bytes),
            "string-bytes",
        ),
    };
    format!("{adds} would take the evaluation past {limit}, the limit for one evaluation; if it is intended, raise the limit: mlinfra --limit {name}=N …")
}

/// Whether this overrun is the first of the evaluation (then it is reported).
pub fn first_report() -> bool {
    USED.with(|u| {
        let mut x = u.get();
        let first = !x.reported;
        x.reported = true;
        u.set(x);
        first
    })
}

/// Elements and string bytes of a value.
pub fn weight(v: &Value) -> (u64, u64) {
    match v {
        Value::String(s) => (1, s.len() as u64),
        Value::List(items) => items.iter().fold((1, 0), |(e, b), i| {
            let (ie, ib) = weight(i);
            (e + ie, b + ib)
        }),
        Value::Map(m) => m.iter().fold((1, 0), |(e, b), (k, i)| {
            let (ie, ib) = weight(i);
            (e + ie, b + ib + k.len() as u64)
        }),
        _ => (1, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_take_units() {
        assert_eq!(parse_amount("200M"), Some(200_000_000));
        assert_eq!(parse_amount("64MiB"), Some(64 << 20));
        assert_eq!(parse_amount("1_000"), Some(1000));
        assert_eq!(parse_amount("12x"), None);
        assert_eq!(parse_amount("99999999999999999999G"), None);
        let mut l = Limits::DEFAULT;
        l.set("steps", "1k").unwrap();
        assert_eq!(l.steps, 1000);
        assert!(l
            .set("stepz", "1")
            .unwrap_err()
            .contains("limits are steps"));
    }

    #[test]
    fn usage_is_counted_per_evaluation() {
        reset();
        let big = Value::List(vec![Value::from("abc"); 10]);
        assert_eq!(weight(&big), (11, 30));
        assert!(value(&big).is_ok());
        assert!(first_report());
        assert!(!first_report());
        reset();
        assert!(first_report());
    }
}
