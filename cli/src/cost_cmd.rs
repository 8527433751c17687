//! `cost`: the tiered monthly estimate of the manifest, without any cloud call.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::ArgMatches;
use mlinfra_cost::estimate::{Line, Tier};
use mlinfra_cost::{Catalog, Estimate, UsageByAddress};
use serde_json::{json, Value as Json};

use crate::style::Style;
use crate::workspace::{cli_inputs, open, print_diagnostics};
use crate::{VarArgs, EXIT_ERROR};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostFormat {
    Table,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct CostArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CostFormat::Table)]
    pub format: CostFormat,
    /// Override machine prices with a catalog in SkyPilot's vms.csv format.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
}

pub fn cost(dir: &Path, m: &ArgMatches, args: &CostArgs, nc: bool) -> Result<u8> {
    let Some((ws, mut diags)) = open(dir, &cli_inputs(m), nc) else {
        return Ok(EXIT_ERROR);
    };
    let (evaluated, d) = ws.evaluate_stateless();
    diags.extend(d);
    diags.sort();
    if print_diagnostics(&ws.config, &diags, nc) {
        return Ok(EXIT_ERROR);
    }
    let catalog = load_catalog(args.catalog.as_deref())?;
    let usage = UsageByAddress::new();
    let est = mlinfra_cost::estimate(&evaluated, &usage, &catalog);
    match args.format {
        CostFormat::Table => print!("{}", table(&est, Style::stdout(nc))),
        CostFormat::Json => println!("{}", serde_json::to_string_pretty(&to_json(&est))?),
    }
    Ok(0)
}

pub fn load_catalog(path: Option<&Path>) -> Result<Catalog> {
    let mut catalog = Catalog::builtin().context("the shipped price catalog")?;
    if let Some(p) = path {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("reading the catalog {}", p.display()))?;
        catalog.override_with(&p.display().to_string(), &text)?;
    }
    Ok(catalog)
}

fn usd(v: f64) -> String {
    let cents = (v * 100.0).round() as i64;
    let (whole, frac) = (cents / 100, (cents % 100).abs());
    let mut s = whole.abs().to_string();
    let mut i = s.len() as isize - 3;
    while i > 0 {
        s.insert(i as usize, ',');
        i -= 3;
    }
    format!(
        "{}${s}.{frac:02}",
        if v < 0.0 && cents != 0 { "-" } else { "" }
    )
}

/// `61440 GB-month`, `5000 × 1000 requests`.
fn quantity(q: f64, unit: &str) -> String {
    let n = mlinfra_schema::format_number((q * 100.0).round() / 100.0);
    if unit.starts_with(|c: char| c.is_ascii_digit()) {
        format!("{n} × {unit}")
    } else {
        format!("{n} {unit}")
    }
}

fn tier_cell(l: &Line, t: Tier) -> String {
    if l.tiers.is_empty() {
        return usd(l.monthly);
    }
    match l.tiers.get(&t).and_then(|p| p.monthly) {
        Some(m) => {
            let mark = if l.tiers[&t].estimated { "~" } else { "" };
            format!("{mark}{}", usd(m))
        }
        None => "n/a".into(),
    }
}

/// The terminal table: one row per component, purchase tiers side by side, totals per tier.
pub fn table(est: &Estimate, st: Style) -> String {
    let mut rows: Vec<[String; 6]> = Vec::new();
    let header = [
        "resource / component".to_string(),
        "quantity".into(),
        Tier::OnDemand.title().into(),
        Tier::Spot.title().into(),
        Tier::Commit1y.title().into(),
        Tier::Commit3y.title().into(),
    ];
    let mut footnotes: Vec<String> = Vec::new();
    let mut out = String::new();
    for r in &est.resources {
        rows.push([
            format!(
                "{}{}",
                r.address,
                r.region
                    .as_deref()
                    .map(|g| format!(" ({g})"))
                    .unwrap_or_default()
            ),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
        for l in &r.lines {
            let primary = if !l.tiers.is_empty() && l.primary != Tier::OnDemand {
                format!(" [{} primary]", l.primary.title())
            } else {
                String::new()
            };
            rows.push([
                format!("  {}{primary}", l.component),
                quantity(l.quantity, &l.unit),
                tier_cell(l, Tier::OnDemand),
                tier_cell(l, Tier::Spot),
                tier_cell(l, Tier::Commit1y),
                tier_cell(l, Tier::Commit3y),
            ]);
            for b in l
                .buckets
                .iter()
                .filter(|b| l.buckets.len() > 1 || b.label != "all")
            {
                rows.push([
                    format!("    {} @ ${}/{}", b.label, b.usd_per_unit, l.unit),
                    quantity(b.quantity, &l.unit),
                    usd(b.monthly),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
            if let Some(spot) = l.tiers.get(&Tier::Spot) {
                if spot.monthly.is_some() {
                    footnotes.push(format!(
                        "{} {}: spot price from the {}",
                        r.address, l.component, spot.note
                    ));
                } else if !spot.note.is_empty() {
                    footnotes.push(format!("{} {}: {}", r.address, l.component, spot.note));
                }
            }
        }
        for u in &r.unpriced {
            rows.push([
                format!("  {}", u.component),
                "not priced".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            footnotes.push(format!(
                "{} {}: not priced: {}",
                r.address, u.component, u.reason
            ));
        }
        for n in &r.notes {
            footnotes.push(format!("{}: {n}", r.address));
        }
    }
    let totals = [
        "Total per month".to_string(),
        String::new(),
        usd(est.monthly_at(Tier::OnDemand)),
        usd(est.monthly_at(Tier::Spot)),
        usd(est.monthly_at(Tier::Commit1y)),
        usd(est.monthly_at(Tier::Commit3y)),
    ];
    let mut widths = [0usize; 6];
    for r in rows.iter().chain([&header, &totals]) {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |r: &[String; 6]| {
        let mut s = String::new();
        for (i, c) in r.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            if i < 2 {
                let _ = write!(s, "{c}{}  ", " ".repeat(pad));
            } else {
                let _ = write!(s, "{}{c}  ", " ".repeat(pad));
            }
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", st.bold(&line(&header)));
    let rule = "─".repeat(widths.iter().sum::<usize>() + 10);
    let _ = writeln!(out, "{}", st.dim(&rule));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r));
    }
    let _ = writeln!(out, "{}", st.dim(&rule));
    let _ = writeln!(out, "{}", st.bold(&line(&totals)));
    let _ = writeln!(
        out,
        "\nPrimary estimate: {} per month ({} per hour), from {} resources{}.",
        st.bold(&usd(est.monthly())),
        usd(est.monthly() / mlinfra_cost::HOURS_PER_MONTH),
        est.resources.len(),
        match est.unpriced_count() {
            0 => String::new(),
            n => format!(
                "; {n} component{} not priced (listed below, not counted as zero)",
                if n == 1 { "" } else { "s" }
            ),
        }
    );
    let _ = writeln!(
        out,
        "~ estimated from a documented commitment discount; a tier shown n/a is not offered in the catalog and counts at on-demand in its total."
    );
    if !footnotes.is_empty() {
        out.push('\n');
        for f in footnotes {
            let _ = writeln!(out, "  - {f}");
        }
    }
    out
}

fn line_json(l: &Line) -> Json {
    json!({
        "component": l.component,
        "unit": l.unit,
        "quantity": l.quantity,
        "primary_tier": l.primary.key(),
        "monthly": l.monthly,
        "hourly": l.hourly,
        "tiers": l.tiers.iter().map(|(t, p)| (t.key().to_string(), json!({
            "monthly": p.monthly,
            "hourly": p.hourly,
            "estimated": p.estimated,
            "note": p.note,
        }))).collect::<serde_json::Map<String, Json>>(),
        "buckets": l.buckets.iter().map(|b| json!({
            "label": b.label,
            "quantity": b.quantity,
            "usd_per_unit": b.usd_per_unit,
            "monthly": b.monthly,
        })).collect::<Vec<_>>(),
        "source": l.source,
    })
}

/// The documented JSON form (docs/cost-json.md).
pub fn to_json(est: &Estimate) -> Json {
    json!({
        "format_version": "1.0",
        "currency": "USD",
        "hours_per_month": mlinfra_cost::HOURS_PER_MONTH,
        "resources": est.resources.iter().map(|r| json!({
            "address": r.address,
            "kind": r.kind,
            "cloud": r.cloud.map(|c| c.as_str()),
            "region": r.region,
            "monthly": r.monthly(),
            "hourly": r.hourly(),
            "tiers": Tier::ALL.iter().map(|t| (t.key().to_string(), json!(r.monthly_at(*t)))).collect::<serde_json::Map<String, Json>>(),
            "components": r.lines.iter().map(line_json).collect::<Vec<_>>(),
            "unpriced": r.unpriced.iter().map(|u| json!({"component": u.component, "reason": u.reason})).collect::<Vec<_>>(),
            "notes": r.notes,
        })).collect::<Vec<_>>(),
        "total": {
            "monthly": est.monthly(),
            "hourly": est.monthly() / mlinfra_cost::HOURS_PER_MONTH,
            "tiers": Tier::ALL.iter().map(|t| (t.key().to_string(), json!(est.monthly_at(*t)))).collect::<serde_json::Map<String, Json>>(),
            "unpriced_components": est.unpriced_count(),
        },
    })
}
