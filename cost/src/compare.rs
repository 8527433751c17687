//! `cost --compare-clouds`: the same GPU compute on each cloud's equivalent machine (same
//! accelerator and count), in the nearest priced region of the same continent, ranked.

use mlinfra_engine::Evaluated;
use mlinfra_schema::{gpu, Cloud, Value};

use crate::catalog::Catalog;
use crate::estimate::{estimate, UsageByAddress};

/// Preferred regions per continent and cloud, nearest first (within the catalog's regions).
const REGIONS: &[(&str, Cloud, &[&str])] = &[
    ("North America", Cloud::Aws, &["us-east-1", "us-west-2"]),
    ("North America", Cloud::Gcp, &["us-central1", "us-east1"]),
    (
        "North America",
        Cloud::Azure,
        &["eastus", "westus2", "westus3"],
    ),
    ("Europe", Cloud::Aws, &["eu-west-1"]),
    ("Europe", Cloud::Gcp, &["europe-west4"]),
    ("Europe", Cloud::Azure, &[]),
];

/// The continent of a region name of any cloud.
pub fn continent(region: &str) -> &'static str {
    let r = region.to_ascii_lowercase();
    if r.starts_with("us-")
        || r.starts_with("ca-")
        || r.starts_with("northamerica")
        || [
            "eastus",
            "eastus2",
            "westus",
            "westus2",
            "westus3",
            "centralus",
            "northcentralus",
            "southcentralus",
            "westcentralus",
            "canadacentral",
            "canadaeast",
        ]
        .contains(&r.as_str())
    {
        "North America"
    } else if r.starts_with("eu-")
        || r.starts_with("europe")
        || r.contains("europe")
        || r.starts_with("uk")
        || r.starts_with("france")
        || r.starts_with("germany")
    {
        "Europe"
    } else if r.starts_with("ap-")
        || r.starts_with("asia")
        || r.starts_with("japan")
        || r.starts_with("korea")
        || r.starts_with("australia")
    {
        "Asia Pacific"
    } else {
        "other"
    }
}

/// One cloud's offer for a resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Offer {
    pub cloud: Cloud,
    pub region: Option<String>,
    pub instance_type: Option<String>,
    pub on_demand_monthly: Option<f64>,
    pub spot_monthly: Option<f64>,
    /// Why there is no offer.
    pub reason: Option<String>,
}

/// A GPU compute resource priced on every cloud.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub address: String,
    pub accelerator: String,
    pub gpus: u32,
    /// Node-hours a month (usage).
    pub node_hours: f64,
    pub continent: String,
    /// Cheapest on-demand first; clouds without an offer last.
    pub offers: Vec<Offer>,
}

/// Compare every GPU pool of the configuration across clouds.
pub fn compare_clouds(
    config: &Evaluated,
    usage: &UsageByAddress,
    catalog: &Catalog,
) -> Vec<Comparison> {
    let est = estimate(config, usage, catalog);
    let mut out = Vec::new();
    for inst in config
        .resources
        .iter()
        .filter(|r| r.kind.name == "gpu_pool")
    {
        let address = inst.address.to_string();
        let (Some(accelerator), Some(gpus)) = (
            inst.attrs.get("accelerator").and_then(Value::as_str),
            inst.attrs.get("gpus_per_node").and_then(Value::as_f64),
        ) else {
            continue;
        };
        let Some(cost) = est.resource(&address) else {
            continue;
        };
        let home = cost.region.clone().unwrap_or_default();
        let cont = continent(&home);
        let node_hours = cost
            .lines
            .first()
            .map(|l| l.quantity)
            .unwrap_or(crate::HOURS_PER_MONTH);
        let gpus = gpus as u32;
        let mut offers = Vec::new();
        for cloud in [Cloud::Aws, Cloud::Azure, Cloud::Gcp] {
            offers.push(offer(
                catalog,
                cloud,
                cont,
                accelerator,
                gpus,
                node_hours,
                &home,
                inst.cloud,
            ));
        }
        offers.sort_by(|a, b| match (a.on_demand_monthly, b.on_demand_monthly) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.cloud.as_str().cmp(b.cloud.as_str()),
        });
        out.push(Comparison {
            address,
            accelerator: accelerator.to_string(),
            gpus,
            node_hours,
            continent: cont.to_string(),
            offers,
        });
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn offer(
    catalog: &Catalog,
    cloud: Cloud,
    cont: &str,
    accelerator: &str,
    gpus: u32,
    node_hours: f64,
    home: &str,
    home_cloud: Option<Cloud>,
) -> Offer {
    let none = |reason: String| Offer {
        cloud,
        region: None,
        instance_type: None,
        on_demand_monthly: None,
        spot_monthly: None,
        reason: Some(reason),
    };
    let Some(machine) = gpu::machine_for(cloud, accelerator, gpus) else {
        return none(gpu::no_machine_reason(cloud, accelerator, gpus));
    };
    // The resource's own region first, then the continent's preferred regions.
    let mut regions: Vec<&str> = Vec::new();
    if home_cloud == Some(cloud) {
        regions.push(home);
    }
    for (c, cl, list) in REGIONS {
        if *c == cont && *cl == cloud {
            regions.extend(list.iter().copied());
        }
    }
    for region in regions {
        let rows = catalog.machine_rows(cloud, machine.instance_type, region);
        if rows.is_empty() {
            continue;
        }
        let od = rows
            .iter()
            .map(|r| r.on_demand)
            .fold(f64::INFINITY, f64::min);
        let spot = rows.iter().filter_map(|r| r.spot).reduce(f64::min);
        return Offer {
            cloud,
            region: Some(region.to_string()),
            instance_type: Some(machine.instance_type.to_string()),
            on_demand_monthly: Some(od * node_hours),
            spot_monthly: spot.map(|s| s * node_hours),
            reason: None,
        };
    }
    none(format!(
        "{} ({gpus} × {accelerator}) has no price in a {cont} region of {cloud} in the catalog",
        machine.instance_type
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_map_to_continents() {
        assert_eq!(continent("us-east-1"), "North America");
        assert_eq!(continent("eastus"), "North America");
        assert_eq!(continent("us-central1"), "North America");
        assert_eq!(continent("europe-west4"), "Europe");
        assert_eq!(continent("eu-west-1"), "Europe");
        assert_eq!(continent("westeurope"), "Europe");
    }

    #[test]
    fn h100_by_8_is_offered_by_every_cloud_in_north_america() {
        let c = Catalog::builtin().unwrap();
        for cloud in [Cloud::Aws, Cloud::Azure, Cloud::Gcp] {
            let o = offer(
                &c,
                cloud,
                "North America",
                "H100",
                8,
                730.0,
                "us-east-1",
                Some(Cloud::Aws),
            );
            assert!(o.on_demand_monthly.is_some(), "{cloud}: {o:?}");
        }
        let o = offer(
            &c,
            Cloud::Azure,
            "North America",
            "L4",
            1,
            730.0,
            "us-east-1",
            Some(Cloud::Aws),
        );
        assert!(
            o.reason.as_deref().unwrap().contains("no L4 machines"),
            "{o:?}"
        );
    }
}
