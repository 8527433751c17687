//! Cost estimates from the same manifests: no cloud calls, no network, no account.
//!
//! The catalog ships inside the binary (`cost/data/*.csv`, every row with its source and
//! date) and can be overridden with a SkyPilot `vms.csv`. An estimate prices every
//! resource's components under every purchase tier (on-demand, spot, 1- and 3-year
//! commitments) and splits volume quantities into their tier buckets; what cannot be
//! priced is listed with the reason, never counted as zero.

pub mod catalog;
pub mod estimate;

pub use catalog::{Catalog, CatalogError};
pub use estimate::{estimate, Estimate, ResourceCost, Tier, UsageByAddress, HOURS_PER_MONTH};
