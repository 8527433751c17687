//! Numbers as Terraform's are: binary floating point with the precision a number was made
//! with (512 bits for a number written in a configuration or read from JSON, 53 for one a
//! function computed in 64-bit floating point), rounded to nearest even, and written with
//! the fewest digits that identify the value at that precision. So whole numbers are exact
//! far beyond 2^53 (`9007199254740993 + 1` is `9007199254740994`), and `0.1 * 1.5` is
//! `0.15`, not `0.15000000000000002`.
//!
//! Whole numbers that fit in 64 bits, the common case, are kept without allocation.

use std::cmp::Ordering;
use std::fmt;

use num_bigint::{BigInt, BigUint, Sign};
use num_integer::Integer;
use num_traits::{One, ToPrimitive, Zero};

/// Bits of mantissa of a number written in a configuration or read from JSON.
pub const PRECISION: u32 = 512;
/// Bits of mantissa of a number computed in 64-bit floating point.
const F64_PRECISION: u32 = 53;
/// Decimal exponents beyond this are read through 64-bit floating point (to infinity or
/// zero), so a number cannot ask for an unbounded amount of work.
const MAX_DECIMAL_EXPONENT: i64 = 100_000;

/// A number of the manifest language.
#[derive(Clone)]
pub struct Number(Repr);

#[derive(Clone)]
enum Repr {
    /// A whole number that fits in 64 bits.
    Int(i64),
    /// Any other finite number.
    Big(Box<Big>),
    /// Infinity or NaN, from a function computed in 64-bit floating point.
    Float(f64),
}

/// ±mant · 2^exp, with mant odd, and the precision it was rounded to.
#[derive(Clone)]
struct Big {
    neg: bool,
    mant: BigUint,
    exp: i64,
    prec: u32,
}

fn signed(neg: bool, mag: BigUint) -> BigInt {
    BigInt::from_biguint(if neg { Sign::Minus } else { Sign::Plus }, mag)
}

/// ±mag · 2^exp rounded to `prec` bits, nearest even; `sticky` says that the exact value
/// has more bits below `mag` (they are not zero), given at least `prec + 1` bits of it.
fn rounded(m: BigInt, mut exp: i64, sticky: bool, prec: u32) -> Number {
    let (sign, mut mag) = m.into_parts();
    if mag.is_zero() {
        return Number(Repr::Int(0));
    }
    let neg = sign == Sign::Minus;
    let bits = mag.bits();
    if bits > u64::from(prec) {
        let s = bits - u64::from(prec);
        let low = &mag & ((BigUint::one() << s) - 1u32);
        mag >>= s;
        exp += s as i64;
        let half = BigUint::one() << (s - 1);
        let up = match low.cmp(&half) {
            Ordering::Greater => true,
            Ordering::Equal => sticky || mag.bit(0),
            Ordering::Less => false,
        };
        if up {
            mag += 1u32;
            if mag.bits() > u64::from(prec) {
                mag >>= 1u32;
                exp += 1;
            }
        }
    }
    let tz = mag.trailing_zeros().unwrap_or(0);
    mag >>= tz;
    exp += tz as i64;
    if exp >= 0 && mag.bits() + exp as u64 <= 63 {
        if let Some(v) = (mag.clone() << exp as usize).to_i64() {
            return Number(Repr::Int(if neg { -v } else { v }));
        }
    }
    Number(Repr::Big(Box::new(Big {
        neg,
        mant: mag,
        exp,
        prec,
    })))
}

/// The exact decimal digits of mag · 2^shift: value = 0.DIGITS × 10^exp, no trailing zeros.
struct Decimal {
    digits: Vec<u8>,
    exp: i64,
}

impl Decimal {
    fn of(mag: &BigUint, shift: i64) -> Decimal {
        if mag.is_zero() {
            return Decimal {
                digits: Vec::new(),
                exp: 0,
            };
        }
        let (text, k) = if shift >= 0 {
            ((mag << shift as usize).to_str_radix(10), 0)
        } else {
            let k = (-shift) as u32;
            (
                (mag * BigUint::from(5u32).pow(k)).to_str_radix(10),
                i64::from(k),
            )
        };
        let mut digits = text.into_bytes();
        let exp = digits.len() as i64 - k;
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        Decimal { digits, exp }
    }

    fn at(&self, i: usize) -> u8 {
        self.digits.get(i).copied().unwrap_or(b'0')
    }

    fn round_up(&mut self, mut n: usize) {
        while n > 0 && self.digits[n - 1] >= b'9' {
            n -= 1;
        }
        if n == 0 {
            self.digits.truncate(1);
            self.digits[0] = b'1';
            self.exp += 1;
            return;
        }
        self.digits[n - 1] += 1;
        self.digits.truncate(n);
    }

    fn round_down(&mut self, n: usize) {
        self.digits.truncate(n);
        while self.digits.last() == Some(&b'0') {
            self.digits.pop();
        }
    }

    fn round(&mut self, n: usize) {
        if n >= self.digits.len() {
            return;
        }
        let up = if self.digits[n] == b'5' && n + 1 == self.digits.len() {
            n > 0 && (self.digits[n - 1] - b'0') & 1 != 0
        } else {
            self.digits[n] >= b'5'
        };
        if up {
            self.round_up(n);
        } else {
            self.round_down(n);
        }
    }
}

impl Big {
    /// The fewest decimal digits that read back as this value at its precision.
    fn shortest(&self) -> Decimal {
        let mut d = Decimal::of(&self.mant, self.exp);
        // The neighbours half an ulp away bound what reads back as this value.
        let extra = u64::from(self.prec) + 1 - self.mant.bits().min(u64::from(self.prec));
        let m2 = &self.mant << extra as usize;
        let e2 = self.exp - extra as i64;
        let lower = Decimal::of(&(&m2 - 1u32), e2);
        let upper = Decimal::of(&(&m2 + 1u32), e2);
        let inclusive = !m2.bit(1);
        // The three share one exponent only when the bounds do; align on d's.
        // The bounds may have their decimal point elsewhere (1 - 1/2 ulp is 0.99…): their
        // digits are compared with d's at the same power of ten.
        let at = |x: &Decimal, i: usize| -> u8 {
            let j = i as i64 + (x.exp - d.exp);
            if j < 0 {
                b'0'
            } else {
                x.at(j as usize)
            }
        };
        let len_in_d = |x: &Decimal| x.digits.len() as i64 - (x.exp - d.exp);
        let (lower_len, upper_len) = (len_in_d(&lower), len_in_d(&upper));
        for i in 0..d.digits.len() {
            let m = d.digits[i];
            let l = at(&lower, i);
            let u = at(&upper, i);
            let (lower_len, upper_len) = (lower_len.max(0) as usize, upper_len.max(0) as usize);
            let okdown = l != m || (inclusive && i + 1 == lower_len);
            let okup = m != u && (inclusive || m + 1 < u || i + 1 < upper_len);
            match (okdown, okup) {
                (true, true) => {
                    d.round(i + 1);
                    return d;
                }
                (true, false) => {
                    d.round_down(i + 1);
                    return d;
                }
                (false, true) => {
                    d.round_up(i + 1);
                    return d;
                }
                (false, false) => {}
            }
        }
        d
    }
}

impl Number {
    /// A whole number.
    pub fn from_i64(v: i64) -> Number {
        Number(Repr::Int(v))
    }

    /// The number a 64-bit float holds, exactly, at 53 bits (how Terraform keeps what a
    /// function computed in floating point).
    pub fn from_f64(f: f64) -> Number {
        if !f.is_finite() {
            return Number(Repr::Float(f));
        }
        if f.fract() == 0.0 && f.abs() < 9.2e18 {
            return Number(Repr::Int(f as i64));
        }
        let bits = f.to_bits();
        let neg = bits >> 63 == 1;
        let e = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1u64 << 52) - 1);
        let (m, exp) = if e == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), e - 1075)
        };
        rounded(signed(neg, BigUint::from(m)), exp, false, F64_PRECISION)
    }

    /// The number JSON holds: a whole number as it is, any other as the decimal it is
    /// written as (the shortest that reads back as `f`), at 512 bits.
    pub fn from_json_f64(f: f64) -> Number {
        if !f.is_finite() || (f.fract() == 0.0 && f.abs() < 9.2e18) {
            return Number::from_f64(f);
        }
        Number::parse(&format!("{f}")).unwrap_or_else(|| Number::from_f64(f))
    }

    /// A decimal number (`12`, `-0.5`, `1e-3`, `6.02E23`) at 512 bits; `None` when `text`
    /// is not one.
    pub fn parse(text: &str) -> Option<Number> {
        let t = text.trim();
        let (neg, body) = match t.as_bytes().first()? {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (whole, frac) = match mantissa.split_once('.') {
            Some((w, f)) => (w, f),
            None => (mantissa, ""),
        };
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty()) || !digits_ok(whole) || !digits_ok(frac) {
            return None;
        }
        let mut exp10: i64 = match exponent {
            Some(e) => {
                let (eneg, ed) = match e.as_bytes().first()? {
                    b'-' => (true, &e[1..]),
                    b'+' => (false, &e[1..]),
                    _ => (false, e),
                };
                if ed.is_empty() || !digits_ok(ed) {
                    return None;
                }
                let v: i64 = ed.parse().unwrap_or(i64::MAX / 4);
                if eneg {
                    -v
                } else {
                    v
                }
            }
            None => 0,
        };
        exp10 -= frac.len() as i64;
        let all = format!("{whole}{frac}");
        let all = all.trim_start_matches('0');
        if all.is_empty() {
            return Some(Number(Repr::Int(0)));
        }
        if exp10.abs() > MAX_DECIMAL_EXPONENT {
            let f: f64 = t.parse().ok()?;
            return Some(Number::from_f64(f));
        }
        if exp10 >= 0 && all.len() + exp10 as usize <= 18 {
            let v: i64 = all.parse().ok()?;
            let v = v * 10i64.pow(exp10 as u32);
            return Some(Number(Repr::Int(if neg { -v } else { v })));
        }
        let d = BigUint::parse_bytes(all.as_bytes(), 10)?;
        Some(if exp10 >= 0 {
            rounded(
                signed(neg, d * BigUint::from(10u32).pow(exp10 as u32)),
                0,
                false,
                PRECISION,
            )
        } else {
            let k = (-exp10) as u32;
            // d / 10^k = d / 5^k · 2^-k
            let q = quotient(neg, d, 0, BigUint::from(5u32).pow(k), 0, PRECISION);
            scale2(q, -i64::from(k))
        })
    }

    fn exact(&self) -> Option<(BigInt, i64, u32)> {
        match &self.0 {
            Repr::Int(i) => Some((BigInt::from(*i), 0, PRECISION)),
            Repr::Big(b) => Some((signed(b.neg, b.mant.clone()), b.exp, b.prec)),
            Repr::Float(_) => None,
        }
    }

    /// The number a JSON document (state, plan JSON, a provider request) holds for this
    /// one: a whole number of 64 bits as it is, any other as its nearest 64-bit float,
    /// read back as the fewest digits that name that float.
    pub fn stored(&self) -> Number {
        match &self.0 {
            Repr::Int(_) | Repr::Float(_) => self.clone(),
            Repr::Big(b) => {
                let whole_64 = b.exp >= 0
                    && b.mant.bits() + b.exp as u64 <= 64
                    && self
                        .to_bigint()
                        .is_some_and(|i| i64::try_from(&i).is_ok() || u64::try_from(&i).is_ok());
                if whole_64 {
                    self.clone()
                } else {
                    Number::from_json_f64(self.to_f64())
                }
            }
        }
    }

    /// The nearest 64-bit float.
    pub fn to_f64(&self) -> f64 {
        match &self.0 {
            Repr::Int(i) => *i as f64,
            Repr::Float(f) => *f,
            Repr::Big(b) => {
                let text = self.to_string();
                let f: f64 = text.parse().unwrap_or(if b.neg {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                });
                f
            }
        }
    }

    /// The whole number, when this is one that fits in 64 bits.
    pub fn to_i64(&self) -> Option<i64> {
        match &self.0 {
            Repr::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The whole number as an integer of any size, when this is one.
    pub fn to_bigint(&self) -> Option<BigInt> {
        match &self.0 {
            Repr::Int(i) => Some(BigInt::from(*i)),
            Repr::Big(b) if b.exp >= 0 => Some(signed(b.neg, &b.mant << b.exp as usize)),
            _ => None,
        }
    }

    /// A whole number of any size, at 512 bits.
    pub fn from_bigint(v: BigInt) -> Number {
        match v.to_i64() {
            Some(i) => Number(Repr::Int(i)),
            None => rounded(v, 0, false, PRECISION),
        }
    }

    /// The whole number as an index or a count, when it is one (0 or more).
    pub fn to_index(&self) -> Option<usize> {
        self.to_i64().and_then(|i| usize::try_from(i).ok())
    }

    pub fn is_integer(&self) -> bool {
        match &self.0 {
            Repr::Int(_) => true,
            Repr::Big(b) => b.exp >= 0,
            Repr::Float(_) => false,
        }
    }

    pub fn is_finite(&self) -> bool {
        !matches!(self.0, Repr::Float(_))
    }

    pub fn is_negative(&self) -> bool {
        match &self.0 {
            Repr::Int(i) => *i < 0,
            Repr::Big(b) => b.neg,
            Repr::Float(f) => *f < 0.0,
        }
    }

    pub fn is_zero(&self) -> bool {
        matches!(self.0, Repr::Int(0))
    }

    fn float_op(&self, other: &Number, op: fn(f64, f64) -> f64) -> Number {
        Number::from_f64(op(self.to_f64(), other.to_f64()))
    }

    pub fn neg(&self) -> Number {
        match &self.0 {
            Repr::Int(i) => match i.checked_neg() {
                Some(v) => Number(Repr::Int(v)),
                None => Number::from_bigint(-BigInt::from(*i)),
            },
            Repr::Big(b) => {
                let mut b = b.clone();
                b.neg = !b.neg;
                Number(Repr::Big(b))
            }
            Repr::Float(f) => Number(Repr::Float(-f)),
        }
    }

    pub fn abs(&self) -> Number {
        if self.is_negative() {
            self.neg()
        } else {
            self.clone()
        }
    }

    pub fn add(&self, other: &Number) -> Number {
        if let (Repr::Int(a), Repr::Int(b)) = (&self.0, &other.0) {
            if let Some(v) = a.checked_add(*b) {
                return Number(Repr::Int(v));
            }
        }
        let (Some((ma, ea, pa)), Some((mb, eb, pb))) = (self.exact(), other.exact()) else {
            return self.float_op(other, |a, b| a + b);
        };
        let prec = pa.max(pb);
        if ma.is_zero() {
            return rounded(mb, eb, false, prec);
        }
        if mb.is_zero() {
            return rounded(ma, ea, false, prec);
        }
        let top = |m: &BigInt, e: i64| m.bits() as i64 + e;
        let (ta, tb) = (top(&ma, ea), top(&mb, eb));
        // An operand wholly below the other's rounding bit only decides the rounding.
        let guard = i64::from(prec) + 3;
        if tb < ta - guard || ta < tb - guard {
            let (big, be, small) = if ta > tb { (ma, ea, mb) } else { (mb, eb, ma) };
            let g = guard as usize;
            let nudge = if small.sign() == Sign::Minus { -1 } else { 1 };
            return rounded((big << g) + nudge, be - g as i64, false, prec);
        }
        let e = ea.min(eb);
        let m = (ma << (ea - e) as usize) + (mb << (eb - e) as usize);
        rounded(m, e, false, prec)
    }

    pub fn sub(&self, other: &Number) -> Number {
        self.add(&other.neg())
    }

    pub fn mul(&self, other: &Number) -> Number {
        if let (Repr::Int(a), Repr::Int(b)) = (&self.0, &other.0) {
            if let Some(v) = a.checked_mul(*b) {
                return Number(Repr::Int(v));
            }
        }
        let (Some((ma, ea, pa)), Some((mb, eb, pb))) = (self.exact(), other.exact()) else {
            return self.float_op(other, |a, b| a * b);
        };
        rounded(ma * mb, ea + eb, false, pa.max(pb))
    }

    /// `None` when `other` is zero.
    pub fn div(&self, other: &Number) -> Option<Number> {
        if other.is_zero() {
            return None;
        }
        if let (Repr::Int(a), Repr::Int(b)) = (&self.0, &other.0) {
            if a.checked_rem(*b) == Some(0) {
                if let Some(v) = a.checked_div(*b) {
                    return Some(Number(Repr::Int(v)));
                }
            }
        }
        let (Some((ma, ea, pa)), Some((mb, eb, pb))) = (self.exact(), other.exact()) else {
            return Some(self.float_op(other, |a, b| a / b));
        };
        let neg = (ma.sign() == Sign::Minus) != (mb.sign() == Sign::Minus);
        Some(quotient(
            neg,
            ma.into_parts().1,
            ea,
            mb.into_parts().1,
            eb,
            pa.max(pb),
        ))
    }

    /// Terraform's `%`: `a - b * trunc(a / b)`; `None` when `other` is zero.
    pub fn rem(&self, other: &Number) -> Option<Number> {
        if other.is_zero() {
            return None;
        }
        if let (Repr::Int(a), Repr::Int(b)) = (&self.0, &other.0) {
            if let Some(v) = a.checked_rem(*b) {
                return Some(Number(Repr::Int(v)));
            }
        }
        if !self.is_finite() || !other.is_finite() {
            return Some(self.float_op(other, |a, b| a % b));
        }
        let q = self.div(other)?.trunc();
        Some(self.sub(&other.mul(&q)))
    }

    /// Toward zero.
    pub fn trunc(&self) -> Number {
        match &self.0 {
            Repr::Big(b) if b.exp < 0 => {
                let t = &b.mant >> (-b.exp) as usize;
                rounded(signed(b.neg, t), 0, false, b.prec)
            }
            _ => self.clone(),
        }
    }

    pub fn floor(&self) -> Number {
        match &self.0 {
            Repr::Big(b) if b.exp < 0 => {
                let t = &b.mant >> (-b.exp) as usize;
                let t = if b.neg { t + 1u32 } else { t };
                rounded(signed(b.neg, t), 0, false, b.prec)
            }
            Repr::Float(f) => Number::from_f64(f.floor()),
            _ => self.clone(),
        }
    }

    pub fn ceil(&self) -> Number {
        match &self.0 {
            Repr::Big(b) if b.exp < 0 => {
                let t = &b.mant >> (-b.exp) as usize;
                let t = if b.neg { t } else { t + 1u32 };
                rounded(signed(b.neg, t), 0, false, b.prec)
            }
            Repr::Float(f) => Number::from_f64(f.ceil()),
            _ => self.clone(),
        }
    }

    /// -1, 0 or 1.
    pub fn signum(&self) -> i64 {
        match &self.0 {
            Repr::Int(i) => i.signum(),
            Repr::Big(b) => {
                if b.neg {
                    -1
                } else {
                    1
                }
            }
            Repr::Float(f) if f.is_nan() => 0,
            Repr::Float(f) => f.signum() as i64,
        }
    }
}

/// ±(ma · 2^ea) / (mb · 2^eb) rounded to `prec` bits.
fn quotient(neg: bool, ma: BigUint, ea: i64, mb: BigUint, eb: i64, prec: u32) -> Number {
    let k = (i64::from(prec) + 2 + mb.bits() as i64 - ma.bits() as i64).max(0);
    let (q, r) = (ma << k as usize).div_rem(&mb);
    rounded(signed(neg, q), ea - eb - k, !r.is_zero(), prec)
}

/// n · 2^k, exactly.
fn scale2(n: Number, k: i64) -> Number {
    match n.exact() {
        Some((m, e, p)) => rounded(m, e + k, false, p),
        None => n,
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        self.partial_cmp(other) == Some(Ordering::Equal)
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        if let (Repr::Int(a), Repr::Int(b)) = (&self.0, &other.0) {
            return Some(a.cmp(b));
        }
        let (Some((ma, ea, _)), Some((mb, eb, _))) = (self.exact(), other.exact()) else {
            return self.to_f64().partial_cmp(&other.to_f64());
        };
        let (sa, sb) = (ma.sign(), mb.sign());
        if sa != sb || ma.is_zero() || mb.is_zero() {
            let rank = |s: Sign| match s {
                Sign::Minus => -1,
                Sign::NoSign => 0,
                Sign::Plus => 1,
            };
            return Some(rank(sa).cmp(&rank(sb)));
        }
        let (ta, tb) = (ma.bits() as i64 + ea, mb.bits() as i64 + eb);
        let magnitude = if ta != tb {
            ta.cmp(&tb)
        } else {
            let e = ea.min(eb);
            let a = ma.magnitude() << (ea - e) as usize;
            let b = mb.magnitude() << (eb - e) as usize;
            a.cmp(&b)
        };
        Some(if sa == Sign::Minus {
            magnitude.reverse()
        } else {
            magnitude
        })
    }
}

impl fmt::Display for Number {
    /// The fewest digits that identify the value at its precision, never with an exponent
    /// (Terraform's `Text('f', -1)`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Int(i) => write!(f, "{i}"),
            Repr::Float(x) => write!(f, "{x}"),
            Repr::Big(b) => {
                let d = b.shortest();
                let mut out = String::new();
                if b.neg {
                    out.push('-');
                }
                if d.exp > 0 {
                    let whole = d.exp as usize;
                    for i in 0..whole {
                        out.push(d.at(i) as char);
                    }
                } else {
                    out.push('0');
                }
                let frac = (d.digits.len() as i64 - d.exp).max(0) as usize;
                if frac > 0 {
                    out.push('.');
                    for i in 0..frac {
                        let j = d.exp + i as i64;
                        out.push(if j < 0 { '0' } else { d.at(j as usize) as char });
                    }
                }
                f.write_str(&out)
            }
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<i64> for Number {
    fn from(v: i64) -> Number {
        Number::from_i64(v)
    }
}

impl From<i32> for Number {
    fn from(v: i32) -> Number {
        Number::from_i64(i64::from(v))
    }
}

impl From<u32> for Number {
    fn from(v: u32) -> Number {
        Number::from_i64(i64::from(v))
    }
}

impl From<usize> for Number {
    fn from(v: usize) -> Number {
        Number::from_bigint(BigInt::from(v))
    }
}

impl From<u64> for Number {
    fn from(v: u64) -> Number {
        Number::from_bigint(BigInt::from(v))
    }
}

impl From<f64> for Number {
    fn from(v: f64) -> Number {
        Number::from_f64(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    #[test]
    fn whole_numbers_are_exact_beyond_2_pow_53() {
        let a = n("9007199254740993");
        assert_eq!(a.add(&n("1")).to_string(), "9007199254740994");
        let big = n("123456789012345678901234567890");
        assert_eq!(big.to_string(), "123456789012345678901234567890");
        assert_eq!(
            big.mul(&n("10")).add(&n("7")).to_string(),
            "1234567890123456789012345678907"
        );
        assert_eq!(
            n("18446744073709551616").sub(&n("1")).to_string(),
            "18446744073709551615"
        );
        assert_eq!(
            Number::from_i64(i64::MAX)
                .add(&Number::from_i64(1))
                .to_string(),
            "9223372036854775808"
        );
        assert_eq!(
            n("-9223372036854775808").neg().to_string(),
            "9223372036854775808"
        );
    }

    #[test]
    fn decimals_as_terraform_writes_them() {
        let rows = [
            ("0.1", "1.5", "mul", "0.15"),
            ("0.1", "0.2", "add", "0.3"),
            ("0.5", "0.25", "sub", "0.25"),
            ("1", "4", "div", "0.25"),
            ("10", "4", "div", "2.5"),
            ("2.5", "2", "mul", "5"),
            ("7", "2", "rem", "1"),
            ("-7", "2", "rem", "-1"),
            ("7.5", "2", "rem", "1.5"),
            ("1e3", "1", "mul", "1000"),
            ("1.5e-3", "1", "mul", "0.0015"),
            ("6.02E23", "1", "mul", "602000000000000000000000"),
        ];
        for (a, b, op, want) in rows {
            let (a, b) = (n(a), n(b));
            let got = match op {
                "add" => a.add(&b),
                "sub" => a.sub(&b),
                "mul" => a.mul(&b),
                "div" => a.div(&b).unwrap(),
                _ => a.rem(&b).unwrap(),
            };
            assert_eq!(got.to_string(), want, "{a} {op} {b}");
        }
        assert!(n("1").div(&n("0")).is_none());
    }

    /// Results at 512 bits, written with the fewest digits that read back as them, from an
    /// independent computation in exact rational arithmetic (each literal and each result
    /// rounded to 512 bits, nearest even; then the shortest decimal that rounds back).
    #[test]
    fn results_at_512_bits_match_exact_rational_arithmetic() {
        let rows = [
            ("0.3", "sub", "0.1", "0.20000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000002"),
            ("1", "div", "3", "0.33333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333335"),
            ("2", "div", "3", "0.6666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666667"),
            ("10", "div", "3", "3.3333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333332"),
            ("1.1", "mul", "1.1", "1.2100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001"),
            ("123456789.123456789", "mul", "987654321.987654321", "121932631356500531.347203169112635269"),
            ("1e-20", "add", "1", "1.00000000000000000001"),
            ("-7.25", "div", "0.1", "-72.5"),
            ("3.14159", "mul", "2.71828", "8.5397212652"),
            ("1", "div", "7", "0.14285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285"),
            ("99999999999999999999", "add", "0.5", "99999999999999999999.5"),
            ("0.000001", "div", "3", "0.00000033333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333337"),
        ];
        for (a, op, b, want) in rows {
            let (a, b) = (n(a), n(b));
            let got = match op {
                "add" => a.add(&b),
                "sub" => a.sub(&b),
                "mul" => a.mul(&b),
                _ => a.div(&b).unwrap(),
            };
            assert_eq!(got.to_string(), want, "{a} {op} {b}");
        }
    }

    #[test]
    fn floats_keep_their_own_digits() {
        assert_eq!(Number::from_f64(0.1).to_string(), "0.1");
        assert_eq!(
            Number::from_f64(2f64.sqrt()).to_string(),
            "1.4142135623730951"
        );
        assert_eq!(Number::from_f64(1e-7).to_string(), "0.0000001");
        assert_eq!(Number::from_f64(-2.5).to_string(), "-2.5");
        assert_eq!(Number::from_f64(3.0).to_i64(), Some(3));
        assert_eq!(Number::from_f64(f64::INFINITY).to_string(), "inf");
        assert_eq!(Number::from_json_f64(0.15).mul(&n("2")).to_string(), "0.3");
        assert_eq!(n("0.15").to_f64(), 0.15);
    }

    #[test]
    fn rounding_and_comparison() {
        assert_eq!(n("2.5").floor().to_string(), "2");
        assert_eq!(n("-2.5").floor().to_string(), "-3");
        assert_eq!(n("2.5").ceil().to_string(), "3");
        assert_eq!(n("-2.5").ceil().to_string(), "-2");
        assert_eq!(n("-2.5").trunc().to_string(), "-2");
        assert!(n("0.1") < n("0.2"));
        assert!(n("-0.1") > n("-0.2"));
        assert!(n("9007199254740993") > n("9007199254740992"));
        assert_eq!(n("1.0"), n("1"));
        assert_eq!(n("0.5"), Number::from_f64(0.5));
        assert!(n("1e-300") > Number::from_i64(0));
        assert_eq!(n("1e300").add(&n("1e-300")).to_string().len(), 301);
        assert_eq!(
            n("1e300").add(&n("1e-300")),
            n("1e300"),
            "below half an ulp"
        );
        assert!(n("1e300").sub(&n("1e-300")) == n("1e300"));
        assert_eq!(n("-0"), Number::from_i64(0));
        for bad in ["", "-", "1.2.3", "e5", "1e", "0x10", "1,5", "abc"] {
            assert!(Number::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(n(".5").to_string(), "0.5");
        assert_eq!(n("5.").to_string(), "5");
    }

    #[test]
    fn stored_is_what_json_holds() {
        // Whole numbers of 64 bits stay exact; the rest become their nearest float.
        for (text, want) in [
            ("9007199254740993", "9007199254740993"),
            ("18446744073709551615", "18446744073709551615"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("18446744073709551617", "18446744073709552000"),
            ("0.1", "0.1"),
        ] {
            assert_eq!(n(text).stored().to_string(), want, "{text}");
        }
        let third = n("1").div(&n("3")).unwrap();
        assert_eq!(third.stored().to_string(), "0.3333333333333333");
        assert_eq!(third.stored().stored(), third.stored());
        assert_eq!(third.stored(), Number::from_json_f64(1.0 / 3.0));
        let huge = n("1e308").mul(&n("10"));
        assert!(
            !huge.stored().is_finite(),
            "{huge} stored as {}",
            huge.stored()
        );
    }
}
