//! `mlinfra cost`: offline estimates of the quickstart, in every format.

use crate::{mlinfra, repo};

#[test]
fn quickstart_cost_table_lists_every_resource_with_all_tiers() {
    let q = repo().join("examples/quickstart");
    let r = mlinfra(&q, &["cost"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for addr in [
        "bucket.datasets",
        "bucket.features",
        "cluster.train",
        "container_registry.images",
        "feature_store.fraud",
        "gpu_pool.training[\"a100\"]",
        "gpu_pool.training[\"h100\"]",
        "model_registry.fraud",
        "module.serving.endpoint.this",
    ] {
        assert!(r.stdout.contains(addr), "{addr} is listed:\n{}", r.stdout);
    }
    assert!(r.stdout.contains("on-demand") && r.stdout.contains("3-year"));
    assert!(
        r.stdout.contains("next 450 TB @ $0.022/GB-month"),
        "60 TB crosses into the second S3 bucket:\n{}",
        r.stdout
    );
    assert!(r.stdout.contains("not priced"), "{}", r.stdout);
    insta::assert_snapshot!("quickstart_cost_table", r.stdout);
}

#[test]
fn quickstart_cost_json_is_documented_and_adds_up() {
    let q = repo().join("examples/quickstart");
    let r = mlinfra(&q, &["cost", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["format_version"], "1.0");
    let sum: f64 = j["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["monthly"].as_f64().unwrap())
        .sum();
    let total = j["total"]["monthly"].as_f64().unwrap();
    assert!((sum - total).abs() < 1e-6, "{sum} vs {total}");
    let h100 = j["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "gpu_pool.training[\"h100\"]")
        .unwrap();
    let c = &h100["components"][0];
    assert_eq!(
        c["primary_tier"], "spot",
        "capacity = \"spot\" makes spot primary"
    );
    assert_eq!(
        c["quantity"], 1440.0,
        "4 nodes × 360 hours from the usage block"
    );
    assert!(c["tiers"]["spot"]["note"]
        .as_str()
        .unwrap()
        .contains("cheapest zone"));
    assert_eq!(c["tiers"]["commit_3y"]["estimated"], true);
    let doc = std::fs::read_to_string(repo().join("docs/cost-json.md")).unwrap();
    for key in [
        "format_version",
        "primary_tier",
        "buckets",
        "unpriced",
        "usd_per_unit",
        "estimated",
    ] {
        assert!(
            doc.contains(&format!("`{key}`")),
            "docs/cost-json.md documents {key}"
        );
    }
    insta::assert_snapshot!("quickstart_cost_json", r.stdout);
}

#[test]
fn a_catalog_file_overrides_prices_and_bad_ones_are_reported() {
    let q = repo().join("examples/quickstart");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vms.csv");
    std::fs::write(
        &file,
        "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone\np5.48xlarge,H100,8,192,2048,,10.0,1.0,us-east-1,use1-az1\n",
    )
    .unwrap();
    let r = mlinfra(
        &q,
        &[
            "cost",
            "--format",
            "json",
            "--catalog",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let h100 = j["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "gpu_pool.training[\"h100\"]")
        .unwrap();
    assert_eq!(h100["components"][0]["tiers"]["spot"]["monthly"], 1440.0);
    std::fs::write(
        &file,
        "InstanceType,Price,Region\np5.48xlarge,ten,us-east-1\n",
    )
    .unwrap();
    let r = mlinfra(&q, &["cost", "--catalog", file.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("vms.csv:2") && r.stderr.contains("\"ten\""),
        "{}",
        r.stderr
    );
}

fn with_budget(dir: &std::path::Path, body: &str) {
    std::fs::write(dir.join("budget.mlinfra.hcl"), body).unwrap();
}

#[test]
fn a_broken_budget_exits_3_naming_the_limit_the_figure_and_the_top_contributors() {
    let dir = crate::copy_to_temp(&crate::fixture("lifecycle"));
    with_budget(
        dir.path(),
        "budget \"gpus\" {\n  monthly_limit_usd = 1000\n  scope             = [\"gpu_pool\"]\n}\n",
    );
    for args in [&["cost"][..], &["plan"][..]] {
        let r = mlinfra(dir.path(), args);
        assert_eq!(r.code, 3, "{args:?}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains(
                "budget \"gpus\" is broken: $31,438.29 per month is over the limit of $1,000.00"
            ) && r
                .stdout
                .contains("largest in scope: gpu_pool.h100 $31,438.29"),
            "{args:?}: {}",
            r.stdout
        );
    }
    let r = mlinfra(dir.path(), &["cost", "--format", "json"]);
    assert_eq!(r.code, 3);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["budgets"][0]["broken"], true);
    assert_eq!(j["budgets"][0]["top"][0]["address"], "gpu_pool.h100");
    // Within the limit: the budget holds and says so.
    with_budget(
        dir.path(),
        "budget \"gpus\" {\n  monthly_limit_usd = 50000\n  scope             = [\"gpu_pool\"]\n}\n",
    );
    let r = mlinfra(dir.path(), &["cost"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("ok budget \"gpus\": $31,438.29 per month, within $50,000.00"),
        "{}",
        r.stdout
    );
}

#[test]
fn increase_budgets_compare_the_plan_with_the_state() {
    let budget = "budget \"growth\" {\n  monthly_limit_usd = 1000000\n  fail_on           = \"increase_over_percent\"\n  increase_percent  = 10\n}\n";
    // From nothing, creating the pool is an increase.
    let fresh = crate::copy_to_temp(&crate::fixture("lifecycle"));
    with_budget(fresh.path(), budget);
    let r = mlinfra(fresh.path(), &["plan"]);
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.stdout.contains("increase from nothing"), "{}", r.stdout);
    // Against the state: H100 → A100-80GB nodes cost less, so the budget holds.
    let dir = crate::plan::applied_lifecycle();
    with_budget(dir.path(), budget);
    let r = mlinfra(
        dir.path(),
        &["plan", "--refresh=false", "--var", "accelerator=A100-80GB"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("Cost: $31,511.29 → $17,276.59 per month (-$14,234.70, -45.2%)")
            && r.stdout.contains("gpu_pool.h100: $31,438.29 → $17,203.59"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("ok budget \"growth\""), "{}", r.stdout);
    let r = mlinfra(
        dir.path(),
        &[
            "plan",
            "--refresh=false",
            "--json",
            "--var",
            "accelerator=A100-80GB",
        ],
    );
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(j["cost"]["monthly_change"].as_f64().unwrap() < 0.0);
    assert_eq!(j["cost"]["budgets"][0]["broken"], false);
}

#[test]
fn a_usage_file_overrides_usage_blocks_and_is_checked() {
    let q = repo().join("examples/quickstart");
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("usage.yaml");
    std::fs::write(
        &yaml,
        "gpu_pool.training[\"h100\"]:\n  average_nodes: 2\n  hours_per_month: 100\n",
    )
    .unwrap();
    let hcl = dir.path().join("usage.hcl");
    std::fs::write(&hcl, "usage \"gpu_pool.training[\\\"h100\\\"]\" {\n  average_nodes   = 2\n  hours_per_month = 100\n}\n").unwrap();
    let mut seen = Vec::new();
    for f in [&yaml, &hcl] {
        let r = mlinfra(
            &q,
            &["cost", "--format", "json", "--usage", f.to_str().unwrap()],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let h100 = j["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == "gpu_pool.training[\"h100\"]")
            .unwrap()
            .clone();
        assert_eq!(
            h100["components"][0]["quantity"], 200.0,
            "2 nodes × 100 hours from the file"
        );
        seen.push(h100);
    }
    assert_eq!(seen[0], seen[1], "YAML and HCL usage files say the same");
    std::fs::write(
        &yaml,
        "bucket.datasetz:\n  storage_gb: 5\ncluster.train:\n  nodes: 3\n",
    )
    .unwrap();
    let r = mlinfra(&q, &["cost", "--usage", yaml.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("usage.yaml:1:1: bucket.datasetz is not declared in the configuration; did you mean bucket.datasets?")
            && r.stderr.contains("usage.yaml:4:3: usage key `nodes` is not read for a cluster; expected one of: hours_per_month"),
        "{}",
        r.stderr
    );
    std::fs::write(
        &hcl,
        "usage \"bucket.datasets\" {\n  storage_gb = \"lots\"\n}\n",
    )
    .unwrap();
    let r = mlinfra(&q, &["cost", "--usage", hcl.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("usage.hcl:2:16: storage_gb must be a non-negative number"),
        "{}",
        r.stderr
    );
}

#[test]
fn compare_clouds_prices_the_same_gpus_on_every_cloud_and_ranks_them() {
    let q = repo().join("examples/quickstart");
    let r = mlinfra(&q, &["cost", "--compare-clouds"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(
            "gpu_pool.training[\"h100\"] (8 × H100, 1440 node-hours a month, North America)"
        ),
        "{}",
        r.stdout
    );
    for m in [
        "p5.48xlarge",
        "a3-highgpu-8g",
        "Standard_ND96isr_H100_v5",
        "p4de.24xlarge",
        "a2-ultragpu-8g",
    ] {
        assert!(r.stdout.contains(m), "{m}: {}", r.stdout);
    }
    let r = mlinfra(&q, &["cost", "--compare-clouds", "--format", "json"]);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    for c in j["comparisons"].as_array().unwrap() {
        let prices: Vec<f64> = c["offers"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["on_demand_monthly"].as_f64())
            .collect();
        assert!(
            prices.windows(2).all(|w| w[0] <= w[1]),
            "ranked cheapest first: {prices:?}"
        );
        if c["gpus_per_node"] == 8 {
            assert_eq!(
                prices.len(),
                3,
                "every cloud offers 8 × H100 and 8 × A100-80GB"
            );
        }
        if c["accelerator"] == "L4" {
            let azure = c["offers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["cloud"] == "azure")
                .unwrap();
            assert!(
                azure["reason"].as_str().unwrap().contains("no L4 machines"),
                "a cloud without the GPU says so: {azure}"
            );
        }
    }
    insta::assert_snapshot!(
        "quickstart_compare_clouds",
        mlinfra(&q, &["cost", "--compare-clouds"]).stdout
    );
}

#[test]
fn markdown_and_html_formats() {
    let q = repo().join("examples/quickstart");
    let r = mlinfra(&q, &["cost", "--format", "markdown"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("### mlinfra cost estimate: $"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("| `feature_store.fraud` | not priced | — |"),
        "{}",
        r.stdout
    );
    insta::assert_snapshot!("quickstart_cost_markdown", r.stdout);
    let r = mlinfra(&q, &["cost", "--format", "html"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = r.stdout;
    assert!(page.starts_with("<!doctype html>") && page.trim_end().ends_with("</html>"));
    assert_eq!(page.matches("<svg").count(), 1, "one chart");
    // One bar per resource and tier, plus the four legend swatches.
    assert_eq!(page.matches("<rect").count(), 11 * 4 + 4);
    assert!(page.contains("<title>gpu_pool.training[&quot;h100&quot;] spot: $14,745.17</title>"));
    let external = page
        .match_indices("http")
        .filter(|(i, _)| !page[*i..].starts_with("http://www.w3.org/2000/svg"))
        .count();
    assert_eq!(external, 0, "self-contained: no external resources");
}

#[test]
fn sagemaker_endpoints_are_priced_per_instance_hour_or_say_why_not() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        "endpoint \"scorer\" {\n  cloud    = \"aws\"\n  role_arn = \"arn:aws:iam::123456789012:role/sm\"\n  model    = { image = \"img:1\" }\n  instance = { type = \"ml.g5.xlarge\", count = 2 }\n}\n\nendpoint \"next\" {\n  cloud    = \"aws\"\n  role_arn = \"arn:aws:iam::123456789012:role/sm\"\n  model    = { image = \"img:1\" }\n  instance = { type = \"ml.g6.xlarge\" }\n}\n",
    )
    .unwrap();
    let r = mlinfra(dir.path(), &["cost", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let find = |a: &str| {
        j["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == a)
            .unwrap()
            .clone()
    };
    let scorer = find("endpoint.scorer");
    let monthly = scorer["monthly"].as_f64().unwrap();
    assert!((monthly - 2.0 * 1.4084 * 730.0).abs() < 1e-6, "{monthly}");
    assert_eq!(
        scorer["components"][0]["tiers"]["spot"]["monthly"],
        serde_json::Value::Null
    );
    let next = find("endpoint.next");
    assert_eq!(next["components"], serde_json::json!([]));
    assert!(
        next["unpriced"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("--catalog"),
        "{next}"
    );
}
