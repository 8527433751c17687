//! `format` and `formatlist`: Terraform's verbs, flags, widths, precisions and `[n]`
//! argument indexes, and its errors for too few or too many arguments and for null.
//!
//! A verb is `%` FLAGS WIDTH .PRECISION [N] LETTER. Numbers follow Go's formatting of
//! arbitrary-precision numbers, which Terraform uses: `%d %b %o %x %X` need a whole number
//! (`#` adds `0b`, `0`, `0x`, `0X`; a precision is a minimum count of digits); `%e %E %f
//! %g %G` default to 6 places (`%g` to the fewest digits that give the value back).
//! Widths and string precisions count grapheme clusters.

use unicode_segmentation::UnicodeSegmentation;

use super::*;

#[derive(Default)]
struct Verb<'a> {
    raw: &'a str,
    offset: usize,
    arg: usize,
    mode: char,
    zero: bool,
    sharp: bool,
    plus: bool,
    minus: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `format(spec, args…)`.
pub(super) fn format(spec: &str, args: &[Value]) -> Result<String, String> {
    let b = spec.as_bytes();
    let mut out = String::with_capacity(spec.len());
    let mut next = 1;
    let mut highest = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            let ch = spec[i..].chars().next().unwrap_or('?');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        if b.get(i + 1) == Some(&b'%') {
            out.push('%');
            i += 2;
            continue;
        }
        let start = i;
        let mut v = Verb {
            offset: start,
            arg: next,
            ..Verb::default()
        };
        i += 1;
        while let Some(c) = b.get(i) {
            match c {
                b'0' => v.zero = true,
                b'#' => v.sharp = true,
                b'-' => v.minus = true,
                b'+' => v.plus = true,
                b' ' => v.space = true,
                _ => break,
            }
            i += 1;
        }
        let number = |i: &mut usize| -> Option<usize> {
            let s = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            (*i > s).then(|| spec[s..*i].parse().unwrap_or(usize::MAX))
        };
        if b.get(i).is_some_and(|c| (b'1'..=b'9').contains(c)) {
            v.width = number(&mut i);
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            v.prec = Some(number(&mut i).unwrap_or(0));
        }
        if b.get(i) == Some(&b'[') {
            i += 1;
            if !b.get(i).is_some_and(|c| (b'1'..=b'9').contains(c)) {
                return Err(unrecognized(spec, i));
            }
            v.arg = number(&mut i).unwrap_or(0);
            if b.get(i) != Some(&b']') {
                return Err(unrecognized(spec, i));
            }
            i += 1;
        }
        match b.get(i) {
            Some(c) if c.is_ascii_alphabetic() => v.mode = *c as char,
            Some(_) => return Err(unrecognized(spec, i)),
            None => {
                return Err(format!(
                    "invalid format string starting at offset {}",
                    spec.len()
                ))
            }
        }
        i += 1;
        v.raw = &spec[start..i];
        highest = highest.max(v.arg);
        append(&v, args, &mut out)?;
        next = v.arg + 1;
    }
    if highest < args.len() {
        return Err(if highest == 0 {
            "too many arguments; no verbs in format string".to_string()
        } else {
            format!("too many arguments; only {highest} used by format string")
        });
    }
    Ok(out)
}

fn unrecognized(spec: &str, at: usize) -> String {
    let c = spec[at..].chars().next().unwrap_or(' ');
    format!("unrecognized format character '{c}' at offset {at}")
}

fn append(v: &Verb, args: &[Value], out: &mut String) -> Result<(), String> {
    let unsupported =
        |why: &str| format!("unsupported value for \"{}\" at {}: {why}", v.raw, v.offset);
    let Some(arg) = args.get(v.arg - 1) else {
        return Err(format!(
            "not enough arguments for \"{}\" at {}: need index {} but have {} total",
            v.raw,
            v.offset,
            v.arg,
            args.len()
        ));
    };
    if v.mode != 'v' && matches!(arg, Value::Null) {
        return Err(unsupported("null value cannot be formatted"));
    }
    let text = match v.mode {
        'v' => match arg {
            Value::String(s) if !v.sharp => s.clone(),
            Value::Number(n) if !v.sharp => shortest_g(n.to_f64()),
            other => super::encoding::json_text(other),
        },
        't' => match arg {
            Value::Bool(b) => b.to_string(),
            Value::String(s) if s == "true" || s == "false" => s.clone(),
            _ => return Err(unsupported("bool required")),
        },
        'b' | 'd' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'g' | 'G' => {
            let n = match arg {
                Value::Number(n) => n.clone(),
                Value::String(s) => mlinfra_schema::Number::parse(s)
                    .ok_or_else(|| unsupported("a number is required"))?,
                _ => return Err(unsupported("number required")),
            };
            out.push_str(&if matches!(v.mode, 'b' | 'd' | 'o' | 'x' | 'X') {
                let Some(whole) = n.to_bigint() else {
                    return Err(unsupported("an integer is required"));
                };
                integer(v, &whole)
            } else {
                float(v, n.to_f64())
            });
            return Ok(());
        }
        's' | 'q' => {
            let s = match arg {
                Value::String(s) => s.clone(),
                Value::Number(n) => format_number(n),
                Value::Bool(b) => b.to_string(),
                _ => return Err(unsupported("string required")),
            };
            let s = match v.prec {
                Some(p) if p > 0 => s.graphemes(true).take(p).collect(),
                _ => s,
            };
            if v.mode == 'q' {
                super::encoding::json_text(&Value::String(s))
            } else {
                s
            }
        }
        m => {
            return Err(format!(
                "unsupported format verb '{m}' in \"{}\" at offset {}",
                v.raw, v.offset
            ))
        }
    };
    out.push_str(&pad(v, text));
    Ok(())
}

/// Width padding of strings and `%v`: spaces (zeros with `0`) on the left, or on the
/// right with `-`.
fn pad(v: &Verb, text: String) -> String {
    let Some(w) = v.width else { return text };
    let len = text.graphemes(true).count();
    if len >= w {
        return text;
    }
    let fill = if v.zero { "0" } else { " " }.repeat(w - len);
    if v.minus {
        text + &fill
    } else {
        fill + &text
    }
}

/// A whole number in base 2, 8, 10 or 16: [pad][sign][prefix][zeros][digits][pad].
fn integer(v: &Verb, n: &num_bigint::BigInt) -> String {
    let base = match v.mode {
        'b' => 2,
        'o' => 8,
        'x' | 'X' => 16,
        _ => 10,
    };
    let mut digits = digits_in_base(n, base);
    if v.mode == 'X' {
        digits = digits.to_uppercase();
    }
    let sign = if n.sign() == num_bigint::Sign::Minus {
        "-"
    } else if v.plus {
        "+"
    } else if v.space {
        " "
    } else {
        ""
    };
    let prefix = match (v.sharp, v.mode) {
        (true, 'b') => "0b",
        (true, 'o') => "0",
        (true, 'x') => "0x",
        (true, 'X') => "0X",
        _ => "",
    };
    let mut zeros = 0;
    if let Some(p) = v.prec {
        if digits.len() < p {
            zeros = p - digits.len();
        } else if digits == "0" && p == 0 {
            return String::new();
        }
    }
    let length = sign.len() + prefix.len() + zeros + digits.len();
    let (mut left, mut right) = (0, 0);
    if let Some(w) = v.width.filter(|w| *w > length) {
        let d = w - length;
        if v.minus {
            right = d;
        } else if v.zero && v.prec.is_none() {
            zeros = d;
        } else {
            left = d;
        }
    }
    format!(
        "{}{sign}{prefix}{}{digits}{}",
        " ".repeat(left),
        "0".repeat(zeros),
        " ".repeat(right)
    )
}

/// The digits of a whole number's magnitude, exactly, however large.
fn digits_in_base(n: &num_bigint::BigInt, base: u32) -> String {
    n.magnitude().to_str_radix(base)
}

/// A decimal mantissa (digits, no trailing zeros) and exponent: value = 0.MANT × 10^exp.
struct Decimal {
    mant: Vec<u8>,
    exp: i32,
}

impl Decimal {
    /// From Rust's `{:e}` form of a non-negative number, `D.DDDDe±N`.
    fn parse(sci: &str) -> Decimal {
        let (m, e) = sci.split_once('e').unwrap_or((sci, "0"));
        let mut mant: Vec<u8> = m.bytes().filter(u8::is_ascii_digit).collect();
        while mant.last() == Some(&b'0') {
            mant.pop();
        }
        let exp = e.parse::<i32>().unwrap_or(0) + 1;
        if mant.is_empty() {
            return Decimal { mant, exp: 0 };
        }
        Decimal { mant, exp }
    }

    fn shortest(x: f64) -> Decimal {
        Decimal::parse(&format!("{x:e}"))
    }

    /// Rounded to `n` significant digits (half to even on the exact value).
    fn significant(x: f64, n: usize) -> Decimal {
        Decimal::parse(&format!("{:.*e}", n.saturating_sub(1), x))
    }

    fn at(&self, i: i32) -> u8 {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.mant.get(i))
            .copied()
            .unwrap_or(b'0')
    }

    /// `d.ddde±dd` with `prec` digits after the point.
    fn e(&self, prec: usize, letter: char) -> String {
        let mut s = String::new();
        s.push(*self.mant.first().unwrap_or(&b'0') as char);
        if prec > 0 {
            s.push('.');
            for i in 1..=prec {
                s.push(self.at(i as i32) as char);
            }
        }
        let exp = if self.mant.is_empty() {
            0
        } else {
            self.exp - 1
        };
        s.push(letter);
        s.push(if exp < 0 { '-' } else { '+' });
        s.push_str(&format!("{:02}", exp.abs()));
        s
    }

    /// `ddd.ddd` with `prec` digits after the point.
    fn f(&self, prec: usize) -> String {
        let mut s = String::new();
        if self.exp > 0 {
            for i in 0..self.exp {
                s.push(self.at(i) as char);
            }
        } else {
            s.push('0');
        }
        if prec > 0 {
            s.push('.');
            for i in 0..prec {
                s.push(self.at(self.exp + i as i32) as char);
            }
        }
        s
    }

    /// `%g`: `%e` when the exponent is below -4 or at least the precision, else `%f`.
    fn g(&self, prec: usize, shortest: bool, letter: char) -> String {
        let mut eprec = prec as i32;
        if eprec > self.mant.len() as i32 && self.mant.len() as i32 >= self.exp {
            eprec = self.mant.len() as i32;
        }
        if shortest {
            eprec = 6;
        }
        let exp = self.exp - 1;
        if exp < -4 || exp >= eprec {
            let p = prec.min(self.mant.len()).max(1);
            return self.e(p - 1, letter);
        }
        let p = if prec as i32 > self.exp {
            self.mant.len() as i32
        } else {
            prec as i32
        };
        self.f((p - self.exp).max(0) as usize)
    }
}

/// `%v` of a number: the fewest digits that give it back, in `%g` form.
fn shortest_g(n: f64) -> String {
    let d = Decimal::shortest(n.abs());
    let body = d.g(d.mant.len(), true, 'e');
    if n < 0.0 {
        format!("-{body}")
    } else {
        body
    }
}

/// `%e %E %f %g %G` with sign, width and padding as Go formats its big floats.
fn float(v: &Verb, n: f64) -> String {
    let x = n.abs();
    let upper = v.mode == 'E' || v.mode == 'G';
    let letter = if upper { 'E' } else { 'e' };
    let body = match (v.mode, v.prec) {
        ('f', p) => format!("{:.*}", p.unwrap_or(6), x),
        ('e' | 'E', p) => Decimal::significant(x, p.unwrap_or(6) + 1).e(p.unwrap_or(6), letter),
        (_, None) => {
            let d = Decimal::shortest(x);
            d.g(d.mant.len(), true, letter)
        }
        (_, Some(p)) => {
            let p = p.max(1);
            Decimal::significant(x, p).g(p, false, letter)
        }
    };
    let sign = if n.is_sign_negative() && n != 0.0 {
        "-"
    } else if v.plus {
        "+"
    } else if v.space {
        " "
    } else {
        ""
    };
    let padding = v
        .width
        .map_or(0, |w| w.saturating_sub(sign.len() + body.len()));
    if v.zero {
        format!("{sign}{}{body}", "0".repeat(padding))
    } else if v.minus {
        format!("{sign}{body}{}", " ".repeat(padding))
    } else {
        format!("{}{sign}{body}", " ".repeat(padding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(spec: &str, args: serde_json::Value) -> Result<String, String> {
        let args: Vec<Value> = args
            .as_array()
            .unwrap()
            .iter()
            .map(Value::from_json)
            .collect();
        format(spec, &args)
    }

    /// Terraform's documented examples and the verbs, flags, widths and precisions of
    /// its format specification.
    #[test]
    fn verbs_flags_widths_and_precisions() {
        let rows: &[(&str, serde_json::Value, &str)] = &[
            ("Hello, %s!", json!(["Ander"]), "Hello, Ander!"),
            ("There are %d lights", json!([4]), "There are 4 lights"),
            ("%s", json!([true]), "true"),
            ("%s", json!([1.5]), "1.5"),
            ("%q", json!(["x"]), "\"x\""),
            ("%q", json!(["<a & b>"]), "\"\\u003ca \\u0026 b\\u003e\""),
            ("%v", json!(["str"]), "str"),
            ("%v", json!([12]), "12"),
            ("%v", json!([1234567]), "1.234567e+06"),
            ("%v", json!([0.000012]), "1.2e-05"),
            ("%v", json!([true]), "true"),
            ("%v", json!([null]), "null"),
            ("%v", json!([[1, "a"]]), "[1,\"a\"]"),
            (
                "%v",
                json!([{"b": 1, "a": [true]}]),
                "{\"a\":[true],\"b\":1}",
            ),
            ("%#v", json!(["str"]), "\"str\""),
            ("%#v", json!([12]), "12"),
            ("%t", json!([true]), "true"),
            ("%t", json!(["false"]), "false"),
            ("%b", json!([5]), "101"),
            ("%#b", json!([5]), "0b101"),
            ("%o", json!([8]), "10"),
            ("%#o", json!([8]), "010"),
            ("%x", json!([255]), "ff"),
            ("%X", json!([255]), "FF"),
            ("%#x", json!([255]), "0xff"),
            ("%#X", json!([255]), "0XFF"),
            ("%d", json!(["42"]), "42"),
            ("%d", json!([-42]), "-42"),
            ("%+d", json!([42]), "+42"),
            ("% d", json!([42]), " 42"),
            ("%5d", json!([42]), "   42"),
            ("%-5d|", json!([42]), "42   |"),
            ("%05d", json!([-42]), "-0042"),
            ("%.4d", json!([42]), "0042"),
            ("%6.4d", json!([42]), "  0042"),
            ("%06.4d", json!([42]), "  0042"),
            ("%.0d", json!([0]), ""),
            ("%x", json!([1e20]), "56bc75e2d63100000"),
            ("%d", json!([1e20]), "100000000000000000000"),
            ("%f", json!([3.14259]), "3.142590"),
            ("%.2f", json!([3.14259]), "3.14"),
            ("%8.2f", json!([3.14259]), "    3.14"),
            ("%-8.2f|", json!([3.14259]), "3.14    |"),
            ("%08.2f", json!([-3.14259]), "-0003.14"),
            ("%+.1f", json!([2.25]), "+2.2"),
            ("%.0f", json!([2.5]), "2"),
            ("%e", json!([1234.5678]), "1.234568e+03"),
            ("%E", json!([1234.5678]), "1.234568E+03"),
            ("%.2e", json!([0.000123]), "1.23e-04"),
            ("%e", json!([0]), "0.000000e+00"),
            ("%g", json!([1234.5678]), "1234.5678"),
            ("%g", json!([0.00001234]), "1.234e-05"),
            ("%g", json!([100000000]), "1e+08"),
            ("%G", json!([100000000]), "1E+08"),
            ("%.3g", json!([1234.5678]), "1.23e+03"),
            ("%.3g", json!([3.14259]), "3.14"),
            ("%.10g", json!([3.5]), "3.5"),
            ("%g", json!([0]), "0"),
            ("%10s|", json!(["abc"]), "       abc|"),
            ("%-10s|", json!(["abc"]), "abc       |"),
            ("%010s", json!(["abc"]), "0000000abc"),
            ("%.2s", json!(["abcdef"]), "ab"),
            ("%5.1s|", json!(["xyz"]), "    x|"),
            ("%.1s", json!(["👾🕹️x"]), "👾"),
            ("%3s|", json!(["👾🕹️"]), " 👾🕹️|"),
            ("%[2]s %[1]s", json!(["a", "b"]), "b a"),
            ("%[2]s %s", json!(["a", "b", "c"]), "b c"),
            ("%s %[1]s", json!(["a"]), "a a"),
            ("%5[1]d|", json!([7]), "    7|"),
            ("100%%", json!([]), "100%"),
            ("%%%s%%", json!(["x"]), "%x%"),
        ];
        for (spec, args, want) in rows {
            assert_eq!(
                f(spec, args.clone()).as_deref(),
                Ok(*want),
                "format({spec:?}, {args})"
            );
        }
    }

    #[test]
    fn errors_as_terraform_gives_them() {
        let rows: &[(&str, serde_json::Value, &str)] = &[
            (
                "%s %s",
                json!(["a"]),
                "not enough arguments for \"%s\" at 3: need index 2 but have 1 total",
            ),
            (
                "%[3]s",
                json!(["a"]),
                "not enough arguments for \"%[3]s\" at 0: need index 3 but have 1 total",
            ),
            (
                "%s",
                json!(["a", "b"]),
                "too many arguments; only 1 used by format string",
            ),
            (
                "hello",
                json!(["a"]),
                "too many arguments; no verbs in format string",
            ),
            (
                "%s",
                json!([null]),
                "unsupported value for \"%s\" at 0: null value cannot be formatted",
            ),
            (
                "%d",
                json!([1.5]),
                "unsupported value for \"%d\" at 0: an integer is required",
            ),
            (
                "%d",
                json!(["x"]),
                "unsupported value for \"%d\" at 0: a number is required",
            ),
            (
                "%s",
                json!([[1]]),
                "unsupported value for \"%s\" at 0: string required",
            ),
            (
                "%t",
                json!([1]),
                "unsupported value for \"%t\" at 0: bool required",
            ),
            (
                "%y",
                json!([1]),
                "unsupported format verb 'y' in \"%y\" at offset 0",
            ),
            (
                "abc%",
                json!([]),
                "invalid format string starting at offset 4",
            ),
            (
                "%5.2 f",
                json!([1]),
                "unrecognized format character ' ' at offset 4",
            ),
            (
                "%[0]s",
                json!([1]),
                "unrecognized format character '0' at offset 2",
            ),
        ];
        for (spec, args, want) in rows {
            assert_eq!(
                f(spec, args.clone()),
                Err(want.to_string()),
                "format({spec:?}, {args})"
            );
        }
    }
}
