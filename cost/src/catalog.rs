//! The price catalog: shipped CSV files, optionally overridden by a SkyPilot `vms.csv`.

use std::collections::BTreeMap;

use mlinfra_schema::Cloud;

/// GPU machine prices (cost/data/compute.csv).
const COMPUTE: &str = include_str!("../data/compute.csv");
/// Managed-service prices, with volume tiers (cost/data/services.csv).
const SERVICES: &str = include_str!("../data/services.csv");
/// Documented commitment discounts per cloud and term (cost/data/commitments.csv).
const COMMITMENTS: &str = include_str!("../data/commitments.csv");

/// One machine in one zone (or region, for Azure).
#[derive(Clone, Debug, PartialEq)]
pub struct ComputeRow {
    pub cloud: Cloud,
    pub region: String,
    pub zone: String,
    pub instance_type: String,
    pub accelerator: String,
    pub gpus: f64,
    pub on_demand: f64,
    pub spot: Option<f64>,
    pub source: String,
    pub as_of: String,
}

/// One priced component of a managed service, for quantities in `[from, to)`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceRow {
    pub cloud: Cloud,
    /// A region, or `*` for every region.
    pub region: String,
    pub kind: String,
    pub component: String,
    pub unit: String,
    pub from: f64,
    pub to: Option<f64>,
    pub usd_per_unit: f64,
    pub source: String,
    pub as_of: String,
}

/// A commitment discount (`1y`, `3y`) as a fraction of the on-demand price.
#[derive(Clone, Debug, PartialEq)]
pub struct CommitmentRow {
    pub cloud: Cloud,
    pub term: String,
    pub discount: f64,
    pub source: String,
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub compute: Vec<ComputeRow>,
    pub services: Vec<ServiceRow>,
    pub commitments: Vec<CommitmentRow>,
}

/// A catalog file that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct CatalogError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// A CSV file: its header, and its rows by column with their line numbers.
type Records = (Vec<String>, Vec<(usize, BTreeMap<String, String>)>);

fn records(file: &str, text: &str) -> Result<Records, CatalogError> {
    let mut rd = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let header: Vec<String> = rd
        .headers()
        .map_err(|e| CatalogError {
            file: file.into(),
            line: 1,
            message: e.to_string(),
        })?
        .iter()
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for (i, rec) in rd.records().enumerate() {
        let rec = rec.map_err(|e| CatalogError {
            file: file.into(),
            line: i + 2,
            message: e.to_string(),
        })?;
        let row = header
            .iter()
            .cloned()
            .zip(rec.iter().map(str::to_string))
            .collect();
        out.push((i + 2, row));
    }
    Ok((header, out))
}

fn field<'a>(
    file: &str,
    line: usize,
    row: &'a BTreeMap<String, String>,
    name: &str,
) -> Result<&'a str, CatalogError> {
    row.get(name)
        .map(String::as_str)
        .ok_or_else(|| CatalogError {
            file: file.into(),
            line,
            message: format!("no column {name}"),
        })
}

fn number(file: &str, line: usize, s: &str, what: &str) -> Result<f64, CatalogError> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| CatalogError {
            file: file.into(),
            line,
            message: format!("{what} \"{s}\" is not a non-negative number"),
        })
}

fn cloud(file: &str, line: usize, s: &str) -> Result<Cloud, CatalogError> {
    Cloud::parse(s).ok_or_else(|| CatalogError {
        file: file.into(),
        line,
        message: format!("unknown cloud \"{s}\""),
    })
}

fn need_source(file: &str, line: usize, source: &str) -> Result<(), CatalogError> {
    if source.trim().is_empty() {
        return Err(CatalogError {
            file: file.into(),
            line,
            message: "the row has no source".into(),
        });
    }
    Ok(())
}

impl Catalog {
    /// The catalog shipped inside the binary.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        let mut c = Catalog::default();
        let f = "cost/data/compute.csv";
        for (line, r) in records(f, COMPUTE)?.1 {
            let g = |n: &str| field(f, line, &r, n);
            need_source(f, line, g("source")?)?;
            let spot = g("spot_usd_hour")?;
            c.compute.push(ComputeRow {
                cloud: cloud(f, line, g("cloud")?)?,
                region: g("region")?.to_string(),
                zone: g("zone")?.to_string(),
                instance_type: g("instance_type")?.to_string(),
                accelerator: g("accelerator")?.to_string(),
                gpus: number(f, line, g("gpus")?, "gpus")?,
                on_demand: number(f, line, g("on_demand_usd_hour")?, "on_demand_usd_hour")?,
                spot: if spot.is_empty() {
                    None
                } else {
                    Some(number(f, line, spot, "spot_usd_hour")?)
                },
                source: g("source")?.to_string(),
                as_of: g("as_of")?.to_string(),
            });
        }
        let f = "cost/data/services.csv";
        for (line, r) in records(f, SERVICES)?.1 {
            let g = |n: &str| field(f, line, &r, n);
            need_source(f, line, g("source")?)?;
            let to = g("tier_to")?;
            c.services.push(ServiceRow {
                cloud: cloud(f, line, g("cloud")?)?,
                region: g("region")?.to_string(),
                kind: g("kind")?.to_string(),
                component: g("component")?.to_string(),
                unit: g("unit")?.to_string(),
                from: number(f, line, g("tier_from")?, "tier_from")?,
                to: if to.is_empty() {
                    None
                } else {
                    Some(number(f, line, to, "tier_to")?)
                },
                usd_per_unit: number(f, line, g("usd_per_unit")?, "usd_per_unit")?,
                source: g("source")?.to_string(),
                as_of: g("as_of")?.to_string(),
            });
        }
        let f = "cost/data/commitments.csv";
        for (line, r) in records(f, COMMITMENTS)?.1 {
            let g = |n: &str| field(f, line, &r, n);
            need_source(f, line, g("source")?)?;
            let discount = number(f, line, g("discount")?, "discount")?;
            if discount >= 1.0 {
                return Err(CatalogError {
                    file: f.into(),
                    line,
                    message: format!("discount {discount} is not a fraction below 1"),
                });
            }
            c.commitments.push(CommitmentRow {
                cloud: cloud(f, line, g("cloud")?)?,
                term: g("term")?.to_string(),
                discount,
                source: g("source")?.to_string(),
            });
        }
        Ok(c)
    }

    /// Override machine prices with a catalog in SkyPilot's `vms.csv` format
    /// (`InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone`).
    /// Its rows replace the shipped rows of the same cloud, instance type, region and zone.
    pub fn override_with(&mut self, file: &str, text: &str) -> Result<usize, CatalogError> {
        let (header, rows) = records(file, text)?;
        for col in ["InstanceType", "Price", "Region"] {
            if !header.iter().any(|h| h == col) {
                return Err(CatalogError {
                    file: file.into(),
                    line: 1,
                    message: format!(
                        "no {col} column; expected SkyPilot's vms.csv header (InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone)"
                    ),
                });
            }
        }
        let mut n = 0;
        for (line, r) in rows {
            let get = |k: &str| r.get(k).map(String::as_str).unwrap_or("");
            let it = get("InstanceType");
            let price = get("Price");
            if it.is_empty() || price.is_empty() {
                continue;
            }
            let cloud = infer_cloud(it);
            let row = ComputeRow {
                cloud,
                region: get("Region").to_string(),
                zone: get("AvailabilityZone").to_string(),
                instance_type: it.to_string(),
                accelerator: get("AcceleratorName").to_string(),
                gpus: get("AcceleratorCount").parse().unwrap_or(0.0),
                on_demand: number(file, line, price, "Price")?,
                spot: match get("SpotPrice") {
                    "" => None,
                    s => Some(number(file, line, s, "SpotPrice")?),
                },
                source: format!("{file}:{line}"),
                as_of: String::new(),
            };
            self.compute.retain(|c| {
                !(c.cloud == row.cloud
                    && c.instance_type == row.instance_type
                    && c.region == row.region
                    && c.zone == row.zone)
            });
            self.compute.push(row);
            n += 1;
        }
        Ok(n)
    }

    /// The rows of `instance_type` in `region`.
    pub fn machine_rows(
        &self,
        cloud: Cloud,
        instance_type: &str,
        region: &str,
    ) -> Vec<&ComputeRow> {
        self.compute
            .iter()
            .filter(|r| r.cloud == cloud && r.instance_type == instance_type && r.region == region)
            .collect()
    }

    /// The regions where `instance_type` is priced.
    pub fn machine_regions(&self, cloud: Cloud, instance_type: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .compute
            .iter()
            .filter(|r| r.cloud == cloud && r.instance_type == instance_type)
            .map(|r| r.region.as_str())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The tier rows of a service component in a region (exact region first, then `*`).
    pub fn service(
        &self,
        cloud: Cloud,
        region: &str,
        kind: &str,
        component: &str,
    ) -> Vec<&ServiceRow> {
        let pick = |reg: &str| -> Vec<&ServiceRow> {
            let mut v: Vec<&ServiceRow> = self
                .services
                .iter()
                .filter(|s| {
                    s.cloud == cloud
                        && s.region == reg
                        && s.kind == kind
                        && s.component == component
                })
                .collect();
            v.sort_by(|a, b| a.from.total_cmp(&b.from));
            v
        };
        let exact = pick(region);
        if exact.is_empty() {
            pick("*")
        } else {
            exact
        }
    }

    /// The regions where a service component is priced.
    pub fn service_regions(&self, cloud: Cloud, kind: &str, component: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .services
            .iter()
            .filter(|s| s.cloud == cloud && s.kind == kind && s.component == component)
            .map(|s| s.region.as_str())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    pub fn commitment(&self, cloud: Cloud, term: &str) -> Option<&CommitmentRow> {
        self.commitments
            .iter()
            .find(|c| c.cloud == cloud && c.term == term)
    }
}

/// Which cloud a SkyPilot instance type belongs to, from its naming.
pub fn infer_cloud(instance_type: &str) -> Cloud {
    if instance_type.starts_with("Standard_") {
        Cloud::Azure
    } else if instance_type.contains('-') && !instance_type.contains('.') {
        Cloud::Gcp
    } else {
        Cloud::Aws
    }
}
