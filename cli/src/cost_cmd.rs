//! `cost`: the tiered monthly estimate of the manifest, without any cloud call.

use mlinfra_engine::secrets::scrub;
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
    /// A pull-request comment.
    Markdown,
    /// One self-contained page with a bar chart.
    Html,
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
    /// Price each GPU pool on every cloud's equivalent machine and rank the clouds.
    #[arg(long = "compare-clouds")]
    pub compare_clouds: bool,
    /// Usage figures by resource address (HCL, or YAML for .yaml/.yml); win over usage blocks.
    #[arg(long, value_name = "FILE")]
    pub usage: Option<PathBuf>,
}

/// Read `--usage FILE` and check it against the configuration: known addresses, keys
/// each kind reads. Errors name FILE:LINE:COL.
pub fn load_usage(
    path: Option<&Path>,
    evaluated: &mlinfra_engine::Evaluated,
    config: &mlinfra_engine::Config,
) -> Result<UsageByAddress> {
    let mut problems = Vec::new();
    // Usage blocks in the manifest: the keys their kind reads.
    for r in &evaluated.resources {
        let allowed = mlinfra_cost::usage::keys(r.kind.name);
        for k in r.usage.keys() {
            if !allowed.contains(&k.as_str()) {
                problems.push(format!(
                    "{}: usage key `{k}` in {} is not read for a {}; expected one of: {}",
                    config.sources.location(r.span),
                    r.address,
                    r.kind.name,
                    if allowed.is_empty() {
                        "none".to_string()
                    } else {
                        allowed.join(", ")
                    }
                ));
            }
        }
    }
    let mut usage = UsageByAddress::new();
    if let Some(p) = path {
        let name = p.display().to_string();
        let text = mlinfra_engine::files::read_capped(
            p,
            mlinfra_engine::budget::limits().file_bytes,
            "; raise the limit with --limit file-bytes=N",
        )
        .with_context(|| format!("reading the usage file {name}"))?;
        let (u, pos) = mlinfra_cost::usage::parse(&name, &text)?;
        let declared: Vec<String> = evaluated
            .resources
            .iter()
            .map(|r| r.address.to_string())
            .collect();
        for (addr, figures) in &u {
            let (line, col) = pos.get(addr).copied().unwrap_or((1, 1));
            let Some(r) = evaluated
                .resources
                .iter()
                .find(|r| &r.address.to_string() == addr)
            else {
                let hint =
                    mlinfra_engine::diag::did_you_mean(addr, declared.iter().map(String::as_str))
                        .map(|s| format!("; did you mean {s}?"))
                        .unwrap_or_default();
                problems.push(format!(
                    "{name}:{line}:{col}: {addr} is not declared in the configuration{hint}"
                ));
                continue;
            };
            let allowed = mlinfra_cost::usage::keys(r.kind.name);
            for k in figures.keys() {
                if !allowed.contains(&k.as_str()) {
                    let (line, col) = pos
                        .get(&format!("{addr}\u{0}{k}"))
                        .copied()
                        .unwrap_or((line, col));
                    problems.push(format!(
                        "{name}:{line}:{col}: usage key `{k}` is not read for a {}; expected one of: {}",
                        r.kind.name,
                        allowed.join(", ")
                    ));
                }
            }
        }
        usage = u;
    }
    if !problems.is_empty() {
        anyhow::bail!("{}", problems.join("\n"));
    }
    Ok(usage)
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
    let usage = load_usage(args.usage.as_deref(), &evaluated, &ws.config)?;
    let est = mlinfra_cost::estimate(&evaluated, &usage, &catalog);
    let budgets = mlinfra_cost::check_budgets(&evaluated, &est, None);
    let st = Style::stdout(nc);
    if args.compare_clouds {
        let cmp = mlinfra_cost::compare::compare_clouds(&evaluated, &usage, &catalog);
        match args.format {
            CostFormat::Json => println!(
                "{}",
                scrub(&serde_json::to_string_pretty(&compare_json(&cmp))?)
            ),
            _ => print!("{}", scrub(&compare_text(&cmp, st))),
        }
        return Ok(0);
    }
    match args.format {
        CostFormat::Table => {
            print!("{}", scrub(&table(&est, st)));
            print!("{}", scrub(&budgets_text(&budgets, st)));
        }
        CostFormat::Json => {
            let mut j = to_json(&est);
            j["budgets"] = budgets_json(&budgets);
            println!("{}", scrub(&serde_json::to_string_pretty(&j)?));
        }
        CostFormat::Markdown => print!("{}", scrub(&markdown(&est, &budgets))),
        CostFormat::Html => print!("{}", scrub(&html(&est, &budgets))),
    }
    Ok(if budgets.iter().any(|b| b.broken) {
        crate::EXIT_GATE
    } else {
        0
    })
}

/// Budget results: one line each; a broken one names its top contributors.
pub fn budgets_text(budgets: &[mlinfra_cost::BudgetResult], st: Style) -> String {
    let mut out = String::new();
    if budgets.is_empty() {
        return out;
    }
    out.push('\n');
    for b in budgets {
        if b.broken {
            let _ = writeln!(
                out,
                "{} budget \"{}\" is broken: {}",
                st.bold(&st.red("Error:")),
                b.name,
                b.message
            );
            let top: Vec<String> = b
                .top
                .iter()
                .map(|(a, m)| format!("{a} {}", usd(*m)))
                .collect();
            if !top.is_empty() {
                let _ = writeln!(out, "  largest in scope: {}", top.join(", "));
            }
        } else {
            let _ = writeln!(
                out,
                "{} budget \"{}\": {}",
                st.green("ok"),
                b.name,
                b.message
            );
        }
    }
    out
}

pub fn budgets_json(budgets: &[mlinfra_cost::BudgetResult]) -> Json {
    Json::Array(
        budgets
            .iter()
            .map(|b| {
                json!({
                    "name": b.name,
                    "monthly_limit_usd": b.limit,
                    "fail_on": b.fail_on,
                    "monthly": b.figure,
                    "monthly_before": b.before,
                    "broken": b.broken,
                    "message": b.message,
                    "top": b.top.iter().map(|(a, m)| json!({"address": a, "monthly": m})).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// The plan's cost section: before → after, the largest changes, and the budgets.
pub fn delta_text(d: &mlinfra_cost::Delta, st: Style) -> String {
    let mut out = String::new();
    let (b, a) = (d.before.monthly(), d.after.monthly());
    let change = a - b;
    let pct = if b > 0.0 {
        format!(", {:+.1}%", change / b * 100.0)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "\n{} {} → {} per month ({}{}{})",
        st.bold("Cost:"),
        usd(b),
        usd(a),
        if change < 0.0 { "-" } else { "+" },
        usd(change.abs()),
        pct
    );
    for (addr, before, after) in d.changed().into_iter().take(5) {
        let _ = writeln!(out, "  {addr}: {} → {}", usd(before), usd(after));
    }
    let unpriced = d.after.unpriced_count();
    if unpriced > 0 {
        let _ = writeln!(
            out,
            "  {unpriced} component{} not priced; see `mlinfra cost`",
            if unpriced == 1 { " is" } else { "s are" }
        );
    }
    out
}

pub fn delta_json(d: &mlinfra_cost::Delta) -> Json {
    json!({
        "monthly_before": d.before.monthly(),
        "monthly_after": d.after.monthly(),
        "monthly_change": d.change(),
        "changed": d.changed().iter().map(|(a, b, c)| json!({"address": a, "monthly_before": b, "monthly_after": c})).collect::<Vec<_>>(),
        "unpriced_components": d.after.unpriced_count(),
    })
}

pub fn load_catalog(path: Option<&Path>) -> Result<Catalog> {
    let mut catalog = Catalog::builtin().context("the shipped price catalog")?;
    if let Some(p) = path {
        let text = mlinfra_engine::files::read_capped(
            p,
            mlinfra_engine::budget::limits().file_bytes,
            "; raise the limit with --limit file-bytes=N",
        )
        .with_context(|| format!("reading the catalog {}", p.display()))?;
        catalog.override_with(&p.display().to_string(), &text)?;
    }
    Ok(catalog)
}

pub fn usd(v: f64) -> String {
    mlinfra_cost::format_usd(v)
}

/// `61440 GB-month`, `5000 × 1000 requests`.
fn quantity(q: f64, unit: &str) -> String {
    let n = mlinfra_schema::format_f64((q * 100.0).round() / 100.0);
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

/// Per-cloud totals of the comparisons: on-demand and spot, and whether every pool has an
/// offer; cheapest complete total first.
fn cloud_totals(cmp: &[mlinfra_cost::compare::Comparison]) -> Vec<(String, f64, f64, usize)> {
    let mut totals: Vec<(String, f64, f64, usize)> = ["aws", "azure", "gcp"]
        .iter()
        .map(|c| {
            let offers: Vec<_> = cmp
                .iter()
                .filter_map(|x| x.offers.iter().find(|o| o.cloud.as_str() == *c))
                .collect();
            let missing = offers
                .iter()
                .filter(|o| o.on_demand_monthly.is_none())
                .count();
            let od = offers.iter().filter_map(|o| o.on_demand_monthly).sum();
            let spot = offers
                .iter()
                .map(|o| o.spot_monthly.or(o.on_demand_monthly).unwrap_or(0.0))
                .sum();
            (c.to_string(), od, spot, missing)
        })
        .collect();
    totals.sort_by(|a, b| (a.3 > 0).cmp(&(b.3 > 0)).then(a.1.total_cmp(&b.1)));
    totals
}

/// The comparison as text: one block per GPU pool, clouds ranked, then the totals.
pub fn compare_text(cmp: &[mlinfra_cost::compare::Comparison], st: Style) -> String {
    let mut out = String::new();
    if cmp.is_empty() {
        let _ = writeln!(out, "No GPU pools to compare.");
        return out;
    }
    for c in cmp {
        let _ = writeln!(
            out,
            "{} ({} × {}, {} node-hours a month, {})",
            st.bold(&c.address),
            c.gpus,
            c.accelerator,
            mlinfra_schema::format_f64(c.node_hours),
            c.continent
        );
        for (i, o) in c.offers.iter().enumerate() {
            match (o.on_demand_monthly, &o.instance_type, &o.region) {
                (Some(od), Some(it), Some(region)) => {
                    let _ = writeln!(
                        out,
                        "  {}. {:<6} {:<28} {:<14} {:>14} on-demand  {:>14} spot",
                        i + 1,
                        o.cloud.as_str(),
                        it,
                        region,
                        usd(od),
                        o.spot_monthly.map(usd).unwrap_or_else(|| "n/a".into())
                    );
                }
                _ => {
                    let _ = writeln!(
                        out,
                        "  -  {:<6} not offered: {}",
                        o.cloud.as_str(),
                        o.reason.as_deref().unwrap_or("")
                    );
                }
            }
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{}",
        st.bold("Total per cloud (GPU pools, per month; spot counts on-demand where a cloud has no spot price):")
    );
    for (i, (cloud, od, spot, missing)) in cloud_totals(cmp).iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}. {:<6} {:>14} on-demand  {:>14} spot{}",
            i + 1,
            cloud,
            usd(*od),
            usd(*spot),
            if *missing > 0 {
                format!(
                    "  (incomplete: {missing} pool{} not offered)",
                    if *missing == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            }
        );
    }
    out
}

pub fn compare_json(cmp: &[mlinfra_cost::compare::Comparison]) -> Json {
    json!({
        "format_version": "1.0",
        "comparisons": cmp.iter().map(|c| json!({
            "address": c.address,
            "accelerator": c.accelerator,
            "gpus_per_node": c.gpus,
            "node_hours": c.node_hours,
            "continent": c.continent,
            "offers": c.offers.iter().map(|o| json!({
                "cloud": o.cloud.as_str(),
                "region": o.region,
                "instance_type": o.instance_type,
                "on_demand_monthly": o.on_demand_monthly,
                "spot_monthly": o.spot_monthly,
                "reason": o.reason,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "totals": cloud_totals(cmp).iter().map(|(c, od, spot, missing)| json!({
            "cloud": c, "on_demand_monthly": od, "spot_monthly": spot, "pools_not_offered": missing,
        })).collect::<Vec<_>>(),
    })
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('<', "&lt;")
}

/// The estimate as Markdown, for a pull-request comment.
pub fn markdown(est: &Estimate, budgets: &[mlinfra_cost::BudgetResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### mlinfra cost estimate: {} per month\n",
        usd(est.monthly())
    );
    let _ = writeln!(
        out,
        "| resource | primary | on-demand | spot | 1-year | 3-year |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for r in &est.resources {
        let cell = |t: Tier| {
            if r.lines.is_empty() {
                "—".to_string()
            } else if r.lines.iter().any(|l| !l.tiers.is_empty()) {
                usd(r.monthly_at(t))
            } else {
                usd(r.monthly())
            }
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            md_escape(&r.address),
            if r.unpriced.is_empty() || !r.lines.is_empty() {
                usd(r.monthly())
            } else {
                "not priced".into()
            },
            cell(Tier::OnDemand),
            cell(Tier::Spot),
            cell(Tier::Commit1y),
            cell(Tier::Commit3y)
        );
    }
    let _ = writeln!(
        out,
        "| **Total** | **{}** | **{}** | **{}** | **{}** | **{}** |",
        usd(est.monthly()),
        usd(est.monthly_at(Tier::OnDemand)),
        usd(est.monthly_at(Tier::Spot)),
        usd(est.monthly_at(Tier::Commit1y)),
        usd(est.monthly_at(Tier::Commit3y))
    );
    let unpriced: Vec<String> = est
        .resources
        .iter()
        .flat_map(|r| {
            r.unpriced.iter().map(move |u| {
                format!(
                    "- `{}` {}: {}",
                    md_escape(&r.address),
                    u.component,
                    u.reason
                )
            })
        })
        .collect();
    if !unpriced.is_empty() {
        let _ = writeln!(out, "\n**Not priced** (not counted as zero):\n");
        for u in unpriced {
            let _ = writeln!(out, "{u}");
        }
    }
    if !budgets.is_empty() {
        let _ = writeln!(out, "\n**Budgets**\n");
        for b in budgets {
            let _ = writeln!(
                out,
                "- {} `{}`: {}",
                if b.broken { "❌ broken" } else { "✅ ok" },
                b.name,
                b.message
            );
        }
    }
    let _ = writeln!(
        out,
        "\n<sub>Commitment tiers are estimated from documented discounts; spot is the cheapest zone of the region. Prices: mlinfra's shipped catalog (see docs/cost.md).</sub>"
    );
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The estimate as one self-contained HTML page: a table and an SVG bar chart of the
/// monthly cost of each resource under each purchase tier.
pub fn html(est: &Estimate, budgets: &[mlinfra_cost::BudgetResult]) -> String {
    let colors = [
        (Tier::OnDemand, "#4e79a7"),
        (Tier::Spot, "#59a14f"),
        (Tier::Commit1y, "#f28e2b"),
        (Tier::Commit3y, "#e15759"),
    ];
    let max = est
        .resources
        .iter()
        .flat_map(|r| Tier::ALL.iter().map(move |t| r.monthly_at(*t)))
        .fold(0.0f64, f64::max)
        .max(1.0);
    let label_w = 320.0;
    let bar_w = 520.0;
    let row_h = 14.0;
    let group_h = row_h * 4.0 + 12.0;
    let height = 40.0 + group_h * est.resources.len() as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"Monthly cost by resource and purchase tier\">",
        label_w + bar_w + 140.0
    );
    for (i, (t, c)) in colors.iter().enumerate() {
        let x = label_w + i as f64 * 130.0;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{c}\"/><text x=\"{}\" y=\"16\" font-size=\"12\">{}</text>",
            x + 16.0,
            t.title()
        );
    }
    for (i, r) in est.resources.iter().enumerate() {
        let y0 = 34.0 + group_h * i as f64;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text>",
            label_w - 8.0,
            y0 + group_h / 2.0 - 4.0,
            html_escape(&r.address)
        );
        for (j, (t, c)) in colors.iter().enumerate() {
            let v = r.monthly_at(*t);
            let w = (v / max * bar_w).max(if v > 0.0 { 1.0 } else { 0.0 });
            let y = y0 + j as f64 * row_h;
            let _ = write!(
                svg,
                "<rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{c}\"><title>{} {}: {}</title></rect><text x=\"{:.1}\" y=\"{}\" font-size=\"10\">{}</text>",
                row_h - 2.0,
                html_escape(&r.address),
                t.title(),
                usd(v),
                label_w + w + 4.0,
                y + row_h - 4.0,
                usd(v)
            );
        }
    }
    svg.push_str("</svg>");
    let mut rows = String::new();
    for r in &est.resources {
        let _ = write!(
            rows,
            "<tr><td><code>{}</code></td><td>{}</td>{}<td>{}</td></tr>",
            html_escape(&r.address),
            html_escape(r.region.as_deref().unwrap_or("")),
            Tier::ALL
                .iter()
                .map(|t| if r.lines.is_empty() {
                    "<td class=\"n\">—</td>".to_string()
                } else {
                    format!("<td class=\"n\">{}</td>", usd(r.monthly_at(*t)))
                })
                .collect::<String>(),
            r.unpriced
                .iter()
                .map(|u| format!(
                    "not priced: {}: {}",
                    html_escape(&u.component),
                    html_escape(&u.reason)
                ))
                .collect::<Vec<_>>()
                .join("<br>")
        );
    }
    let budget_items: String = budgets
        .iter()
        .map(|b| {
            format!(
                "<li class=\"{}\">budget <b>{}</b>: {}</li>",
                if b.broken { "bad" } else { "ok" },
                html_escape(&b.name),
                html_escape(&b.message)
            )
        })
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mlinfra cost estimate</title>\n<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:top}}td.n,th.n{{text-align:right}}.bad{{color:#b00}}.ok{{color:#070}}</style></head>\n<body>\n<h1>Monthly cost estimate: {}</h1>\n<p>Primary figure {} per month ({} per hour); {} components not priced.</p>\n{}\n<table><thead><tr><th>resource</th><th>region</th>{}<th></th></tr></thead><tbody>{}</tbody><tfoot><tr><th>Total</th><th></th>{}<th></th></tr></tfoot></table>\n<ul>{}</ul>\n<p><small>Spot is the cheapest zone of the region; 1- and 3-year tiers are estimated from documented commitment discounts. Prices from mlinfra's shipped catalog.</small></p>\n</body></html>\n",
        usd(est.monthly()),
        usd(est.monthly()),
        usd(est.monthly() / mlinfra_cost::HOURS_PER_MONTH),
        est.unpriced_count(),
        svg,
        Tier::ALL.iter().map(|t| format!("<th class=\"n\">{}</th>", t.title())).collect::<String>(),
        rows,
        Tier::ALL.iter().map(|t| format!("<th class=\"n\">{}</th>", usd(est.monthly_at(*t)))).collect::<String>(),
        budget_items,
    )
}
