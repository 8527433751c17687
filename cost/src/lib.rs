//! Cost estimates from the same manifests: no cloud calls, no network, no account.
//!
//! The catalog ships inside the binary (`cost/data/*.csv`, every row with its source and
//! date) and can be overridden with a SkyPilot `vms.csv`. An estimate prices every
//! resource's components under every purchase tier (on-demand, spot, 1- and 3-year
//! commitments) and splits volume quantities into their tier buckets; what cannot be
//! priced is listed with the reason, never counted as zero.

pub mod catalog;
pub mod compare;
pub mod delta;
pub mod estimate;
pub mod usage;

pub use catalog::{Catalog, CatalogError};
pub use delta::{check_budgets, plan_delta, BudgetResult, Delta};
pub use estimate::{estimate, Estimate, ResourceCost, Tier, UsageByAddress, HOURS_PER_MONTH};

/// `$1,234.56`: dollars with thousands separators and cents.
pub fn format_usd(v: f64) -> String {
    let cents = (v * 100.0).round() as i64;
    let (whole, frac) = ((cents / 100).abs(), (cents % 100).abs());
    let digits = whole.to_string();
    let mut s = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            s.push(',');
        }
        s.push(ch);
    }
    format!("{}${s}.{frac:02}", if cents < 0 { "-" } else { "" })
}

#[cfg(test)]
mod tests {
    #[test]
    fn dollars_have_separators_and_cents() {
        assert_eq!(super::format_usd(0.0), "$0.00");
        assert_eq!(super::format_usd(1234567.891), "$1,234,567.89");
        assert_eq!(super::format_usd(-14234.7), "-$14,234.70");
        assert_eq!(super::format_usd(999.999), "$1,000.00");
    }
}
