//! Date and time functions: formatdate, plantimestamp, timeadd, timecmp, timestamp.
//! Timestamps are RFC 3339 strings, as in Terraform; arithmetic keeps the timestamp's own
//! UTC offset.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use super::*;

pub(super) const FUNCTIONS: &[(&str, &str, Func)] = &[
    ("formatdate", "formatdate(spec, timestamp)", |a, _| {
        arity(a, 2)?;
        let t = parse(&string(a, 1)?).map_err(|e| format!("argument 2: {e}"))?;
        format_date(&string(a, 0)?, &t).map(Value::String)
    }),
    ("plantimestamp", "plantimestamp()", |a, _| {
        arity(a, 0)?;
        static PLAN_TIME: OnceLock<(i64, u32)> = OnceLock::new();
        let (secs, nanos) = *PLAN_TIME.get_or_init(now);
        Ok(Value::String(
            Time {
                secs,
                nanos,
                offset: 0,
            }
            .rfc3339(),
        ))
    }),
    ("timeadd", "timeadd(timestamp, duration)", |a, _| {
        arity(a, 2)?;
        let t = parse(&string(a, 0)?).map_err(|e| format!("argument 1: {e}"))?;
        let d = parse_duration(&string(a, 1)?).map_err(|e| format!("argument 2: {e}"))?;
        let total = i128::from(t.secs) * 1_000_000_000 + i128::from(t.nanos) + d;
        let secs = i64::try_from(total.div_euclid(1_000_000_000))
            .map_err(|_| "the result is out of range")?;
        let nanos = total.rem_euclid(1_000_000_000) as u32;
        Ok(Value::String(
            Time {
                secs,
                nanos,
                offset: t.offset,
            }
            .rfc3339(),
        ))
    }),
    ("timecmp", "timecmp(timestamp_a, timestamp_b)", |a, _| {
        arity(a, 2)?;
        let x = parse(&string(a, 0)?).map_err(|e| format!("argument 1: {e}"))?;
        let y = parse(&string(a, 1)?).map_err(|e| format!("argument 2: {e}"))?;
        Ok(Value::from(
            match (x.secs, x.nanos).cmp(&(y.secs, y.nanos)) {
                std::cmp::Ordering::Less => -1i64,
                std::cmp::Ordering::Equal => 0,
                std::cmp::Ordering::Greater => 1,
            },
        ))
    }),
    ("timestamp", "timestamp()", |a, _| {
        arity(a, 0)?;
        // As in Terraform, the time is taken when the change is made: the plan shows it
        // as known after apply.
        if !APPLYING.with(Cell::get) {
            return Ok(Value::Unknown);
        }
        let (secs, _) = now();
        Ok(Value::String(
            Time {
                secs,
                nanos: 0,
                offset: 0,
            }
            .rfc3339(),
        ))
    }),
];

thread_local! {
    static APPLYING: Cell<bool> = const { Cell::new(false) };
}

/// Evaluate with `timestamp()` known: apply calls this when it evaluates the values that
/// were unknown in the plan.
pub fn while_applying<T>(f: impl FnOnce() -> T) -> T {
    let was = APPLYING.with(|a| a.replace(true));
    let out = f();
    APPLYING.with(|a| a.set(was));
    out
}

fn now() -> (i64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        d.subsec_nanos(),
    )
}

/// An instant with the UTC offset it was written in (seconds east of UTC).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Time {
    secs: i64,
    nanos: u32,
    offset: i32,
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    weekday: usize,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Time {
    /// The wall clock in the timestamp's own offset.
    fn civil(&self) -> Civil {
        let local = self.secs + i64::from(self.offset);
        let days = local.div_euclid(86_400);
        let rem = local.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            weekday: (days + 4).rem_euclid(7) as usize,
        }
    }

    fn offset(&self, colon: bool, z_for_utc: Option<&str>) -> String {
        if let (0, Some(z)) = (self.offset, z_for_utc) {
            return z.to_string();
        }
        let sign = if self.offset < 0 { '-' } else { '+' };
        let m = self.offset.unsigned_abs() / 60;
        if colon {
            format!("{sign}{:02}:{:02}", m / 60, m % 60)
        } else {
            format!("{sign}{:02}{:02}", m / 60, m % 60)
        }
    }

    /// `2006-01-02T15:04:05Z07:00` (whole seconds, as Terraform writes timestamps).
    fn rfc3339(&self) -> String {
        let c = self.civil();
        let mut s = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        );
        s.push_str(&self.offset(true, Some("Z")));
        s
    }
}

/// An RFC 3339 timestamp: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
fn parse(s: &str) -> Result<Time, String> {
    let bad = |what: &str| Err(format!("\"{s}\" is not a valid RFC 3339 timestamp: {what}"));
    let b = s.as_bytes();
    let digits = |from: usize, n: usize| -> Option<u32> {
        let part = b.get(from..from + n)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let Some(year) = digits(0, 4) else {
        return bad("expected a four-digit year");
    };
    if b.get(4) != Some(&b'-') {
        return bad("expected \"-\" after the year");
    }
    let Some(month) = digits(5, 2).filter(|m| (1..=12).contains(m)) else {
        return bad("expected a month 01 to 12");
    };
    if b.get(7) != Some(&b'-') {
        return bad("expected \"-\" after the month");
    }
    let year = i64::from(year);
    let Some(day) = digits(8, 2).filter(|d| *d >= 1 && *d <= days_in_month(year, month)) else {
        return bad("expected a day of that month");
    };
    if b.get(10) != Some(&b'T') {
        return bad("missing required time introducer 'T'");
    }
    let Some(hour) = digits(11, 2).filter(|h| *h < 24) else {
        return bad("expected an hour 00 to 23");
    };
    let Some(minute) = (b.get(13) == Some(&b':'))
        .then(|| digits(14, 2))
        .flatten()
        .filter(|m| *m < 60)
    else {
        return bad("expected \":\" and a minute 00 to 59");
    };
    let Some(second) = (b.get(16) == Some(&b':'))
        .then(|| digits(17, 2))
        .flatten()
        .filter(|m| *m < 60)
    else {
        return bad("expected \":\" and a second 00 to 59");
    };
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return bad("expected digits after \".\"");
        }
        let frac = &s[start..end.min(start + 9)];
        nanos = format!("{frac:0<9}").parse().unwrap_or(0);
        i = end;
    }
    let offset = match b.get(i) {
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let (Some(h), Some(m)) = (digits(i + 1, 2), digits(i + 4, 2)) else {
                return bad("expected a UTC offset like +05:30");
            };
            if h > 23 || m > 59 {
                return bad("the UTC offset is out of range");
            }
            let o = (h * 3600 + m * 60) as i32;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        None => return bad("end of string before the UTC offset (Z or ±HH:MM)"),
        _ => return bad("expected the UTC offset (Z or ±HH:MM) at the end"),
    };
    let local =
        days_from_civil(year, month, day) * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Ok(Time {
        secs: local - i64::from(offset),
        nanos,
        offset,
    })
}

/// A duration as Go writes them (`1h30m`, `-2.5s`, `300ms`): nanoseconds.
fn parse_duration(s: &str) -> Result<i128, String> {
    let bad = || {
        format!("\"{s}\" is not a duration (like \"1h30m\", \"-10m\" or \"2.5s\"; units ns, us, ms, s, m, h)")
    };
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..num_len];
        if number.is_empty() || number == "." {
            return Err(bad());
        }
        let n: f64 = number.parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    if total > 9.2e18 {
        return Err(format!(
            "\"{s}\" is longer than about 290 years, the longest duration there is"
        ));
    }
    let ns = total.round() as i128;
    Ok(if neg { -ns } else { ns })
}

fn format_date(spec: &str, t: &Time) -> Result<String, String> {
    let c = t.civil();
    let mut out = String::new();
    let chars: Vec<char> = spec.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        if ch == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err("argument 1: unterminated literal '".into()),
                    Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                        out.push('\'');
                        j += 2;
                    }
                    Some('\'') => break,
                    Some(c) => {
                        out.push(*c);
                        j += 1;
                    }
                }
            }
            i = j + 1;
            continue;
        }
        if !ch.is_ascii_alphabetic() {
            out.push(ch);
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&ch) {
            n += 1;
        }
        let verb: String = chars[i..i + n].iter().collect();
        let invalid = |what: &str| {
            Err(format!(
                "argument 1: invalid date format verb \"{verb}\": {what}"
            ))
        };
        let num = |v: u32| match n {
            1 => Some(v.to_string()),
            2 => Some(format!("{v:02}")),
            _ => None,
        };
        let piece = match ch {
            'Y' => match n {
                2 => format!("{:02}", c.year.rem_euclid(100)),
                4 => format!("{:04}", c.year),
                _ => return invalid("year must either be \"YY\" or \"YYYY\""),
            },
            'M' => match n {
                1 | 2 => num(c.month).unwrap_or_default(),
                3 => MONTHS[c.month as usize - 1][..3].to_string(),
                4 => MONTHS[c.month as usize - 1].to_string(),
                _ => return invalid("month must be \"M\", \"MM\", \"MMM\", or \"MMMM\""),
            },
            'D' => match num(c.day) {
                Some(s) => s,
                None => return invalid("day of month must either be \"D\" or \"DD\""),
            },
            'E' => match n {
                3 => WEEKDAYS[c.weekday][..3].to_string(),
                4 => WEEKDAYS[c.weekday].to_string(),
                _ => return invalid("day of week must either be \"EEE\" or \"EEEE\""),
            },
            'h' => match num(c.hour) {
                Some(s) => s,
                None => return invalid("24-hour must either be \"h\" or \"hh\""),
            },
            'H' => match num(if c.hour.is_multiple_of(12) {
                12
            } else {
                c.hour % 12
            }) {
                Some(s) => s,
                None => return invalid("12-hour must either be \"H\" or \"HH\""),
            },
            'A' | 'a' if n == 2 => {
                let pm = c.hour >= 12;
                match (ch, pm) {
                    ('A', false) => "AM",
                    ('A', true) => "PM",
                    (_, false) => "am",
                    (_, true) => "pm",
                }
                .to_string()
            }
            'A' | 'a' => return invalid(&format!("must be \"{ch}{ch}\"")),
            'm' => match num(c.minute) {
                Some(s) => s,
                None => return invalid("minute must either be \"m\" or \"mm\""),
            },
            's' => match num(c.second) {
                Some(s) => s,
                None => return invalid("second must either be \"s\" or \"ss\""),
            },
            'Z' => match n {
                1 => t.offset(true, Some("Z")),
                3 => t.offset(false, Some("UTC")),
                4 => t.offset(false, None),
                5 => t.offset(true, None),
                _ => return invalid("timezone must be Z, ZZZZ, or ZZZZZ"),
            },
            _ => return invalid("not a date format verb; quote literal letters, like 'at'"),
        };
        out.push_str(&piece);
        i += n;
    }
    Ok(out)
}
