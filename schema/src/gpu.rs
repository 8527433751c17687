//! The GPU catalog: which machine of each cloud carries `accelerator` × `gpus_per_node`.
//!
//! Machine shapes (GPU model, count, vCPUs, memory) are the public facts of the clouds'
//! instance catalogs, as extracted in the SkyPilot catalogs (AWS `vms.csv`, Azure
//! `vms.csv`, GCP `vms.csv`, generated 2025) and checked against the clouds' instance
//! type pages. Where a cloud offers several machines with the same GPUs, the smallest
//! (fewest vCPUs) is the default; `instance_type` in the manifest overrides it.

use crate::Cloud;

/// One machine shape of one cloud.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Machine {
    pub cloud: Cloud,
    /// Normalised accelerator name, as in `gpu_pool.accelerator`.
    pub accelerator: &'static str,
    pub gpus: u32,
    /// Instance type (AWS), VM size (Azure) or machine type (GCP).
    pub instance_type: &'static str,
    pub vcpus: u32,
    pub memory_gib: u32,
}

const fn m(
    cloud: Cloud,
    accelerator: &'static str,
    gpus: u32,
    instance_type: &'static str,
    vcpus: u32,
    memory_gib: u32,
) -> Machine {
    Machine {
        cloud,
        accelerator,
        gpus,
        instance_type,
        vcpus,
        memory_gib,
    }
}

use Cloud::{Aws, Azure, Gcp};

/// Every machine the catalog knows, smallest first within one (cloud, accelerator, gpus).
pub const MACHINES: &[Machine] = &[
    // AWS EC2 accelerated computing instances.
    m(Aws, "B200", 8, "p6-b200.48xlarge", 192, 2048),
    m(Aws, "H200", 8, "p5e.48xlarge", 192, 2048),
    m(Aws, "H100", 1, "p5.4xlarge", 16, 256),
    m(Aws, "H100", 8, "p5.48xlarge", 192, 2048),
    m(Aws, "A100-80GB", 8, "p4de.24xlarge", 96, 1152),
    m(Aws, "A100", 8, "p4d.24xlarge", 96, 1152),
    m(Aws, "L40S", 1, "g6e.xlarge", 4, 32),
    m(Aws, "L40S", 4, "g6e.12xlarge", 48, 384),
    m(Aws, "L40S", 8, "g6e.48xlarge", 192, 1536),
    m(Aws, "L4", 1, "g6.xlarge", 4, 16),
    m(Aws, "L4", 4, "g6.12xlarge", 48, 192),
    m(Aws, "L4", 8, "g6.48xlarge", 192, 768),
    m(Aws, "A10G", 1, "g5.xlarge", 4, 16),
    m(Aws, "A10G", 4, "g5.12xlarge", 48, 192),
    m(Aws, "A10G", 8, "g5.48xlarge", 192, 768),
    m(Aws, "T4", 1, "g4dn.xlarge", 4, 16),
    m(Aws, "T4", 4, "g4dn.12xlarge", 48, 192),
    m(Aws, "T4", 8, "g4dn.metal", 96, 384),
    m(Aws, "V100", 1, "p3.2xlarge", 8, 61),
    m(Aws, "V100", 4, "p3.8xlarge", 32, 244),
    // Azure GPU VM sizes.
    m(Azure, "H100", 1, "Standard_NC40ads_H100_v5", 40, 320),
    m(Azure, "H100", 2, "Standard_NC80adis_H100_v5", 80, 640),
    m(Azure, "H100", 8, "Standard_ND96isr_H100_v5", 96, 1900),
    m(Azure, "A100-80GB", 1, "Standard_NC24ads_A100_v4", 24, 220),
    m(Azure, "A100-80GB", 2, "Standard_NC48ads_A100_v4", 48, 440),
    m(Azure, "A100-80GB", 4, "Standard_NC96ads_A100_v4", 96, 880),
    m(Azure, "A100-80GB", 8, "Standard_ND96amsr_A100_v4", 96, 1800),
    m(Azure, "A100", 8, "Standard_ND96asr_v4", 96, 900),
    m(Azure, "A10", 1, "Standard_NV36ads_A10_v5", 36, 440),
    m(Azure, "A10", 2, "Standard_NV72ads_A10_v5", 72, 880),
    m(Azure, "T4", 1, "Standard_NC4as_T4_v3", 4, 28),
    m(Azure, "T4", 4, "Standard_NC64as_T4_v3", 64, 440),
    m(Azure, "V100", 1, "Standard_NC6s_v3", 6, 112),
    m(Azure, "V100", 2, "Standard_NC12s_v3", 12, 224),
    m(Azure, "V100", 4, "Standard_NC24s_v3", 24, 448),
    // GCP accelerator-optimized machine types (GPUs built in).
    m(Gcp, "B200", 8, "a4-highgpu-8g", 224, 3968),
    m(Gcp, "H200", 8, "a3-ultragpu-8g", 224, 2952),
    m(Gcp, "H100", 1, "a3-highgpu-1g", 26, 234),
    m(Gcp, "H100", 2, "a3-highgpu-2g", 52, 468),
    m(Gcp, "H100", 4, "a3-highgpu-4g", 104, 936),
    m(Gcp, "H100", 8, "a3-highgpu-8g", 208, 1872),
    m(Gcp, "A100-80GB", 1, "a2-ultragpu-1g", 12, 170),
    m(Gcp, "A100-80GB", 2, "a2-ultragpu-2g", 24, 340),
    m(Gcp, "A100-80GB", 4, "a2-ultragpu-4g", 48, 680),
    m(Gcp, "A100-80GB", 8, "a2-ultragpu-8g", 96, 1360),
    m(Gcp, "A100", 1, "a2-highgpu-1g", 12, 85),
    m(Gcp, "A100", 2, "a2-highgpu-2g", 24, 170),
    m(Gcp, "A100", 4, "a2-highgpu-4g", 48, 340),
    m(Gcp, "A100", 8, "a2-highgpu-8g", 96, 680),
    m(Gcp, "A100", 16, "a2-megagpu-16g", 96, 1360),
    m(Gcp, "L4", 1, "g2-standard-4", 4, 16),
    m(Gcp, "L4", 2, "g2-standard-24", 24, 96),
    m(Gcp, "L4", 4, "g2-standard-48", 48, 192),
    m(Gcp, "L4", 8, "g2-standard-96", 96, 384),
];

/// The default machine for `accelerator` × `gpus` on `cloud`.
pub fn machine_for(cloud: Cloud, accelerator: &str, gpus: u32) -> Option<&'static Machine> {
    MACHINES
        .iter()
        .find(|m| m.cloud == cloud && m.accelerator == accelerator && m.gpus == gpus)
}

/// The machine named `instance_type` on `cloud`, if the catalog knows it.
pub fn machine_named(cloud: Cloud, instance_type: &str) -> Option<&'static Machine> {
    MACHINES
        .iter()
        .find(|m| m.cloud == cloud && m.instance_type == instance_type)
}

/// GPU counts per node the catalog offers for `accelerator` on `cloud`, ascending.
pub fn counts_for(cloud: Cloud, accelerator: &str) -> Vec<u32> {
    let mut v: Vec<u32> = MACHINES
        .iter()
        .filter(|m| m.cloud == cloud && m.accelerator == accelerator)
        .map(|m| m.gpus)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Why no machine fits, for an error message: what the cloud offers instead.
pub fn no_machine_reason(cloud: Cloud, accelerator: &str, gpus: u32) -> String {
    let counts = counts_for(cloud, accelerator);
    if counts.is_empty() {
        let offered: Vec<&str> = {
            let mut a: Vec<&str> = MACHINES
                .iter()
                .filter(|m| m.cloud == cloud)
                .map(|m| m.accelerator)
                .collect();
            a.dedup();
            a
        };
        format!(
            "{cloud} has no {accelerator} machines in the GPU catalog; it offers {}",
            offered.join(", ")
        )
    } else {
        let list: Vec<String> = counts.iter().map(u32::to_string).collect();
        format!(
            "{cloud} has no machine with {gpus} × {accelerator}; gpus_per_node can be {}, or set instance_type",
            list.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_examples_map_to_the_documented_instances() {
        assert_eq!(
            machine_for(Aws, "A100", 8).map(|m| m.instance_type),
            Some("p4d.24xlarge")
        );
        assert_eq!(
            machine_for(Aws, "H100", 8).map(|m| m.instance_type),
            Some("p5.48xlarge")
        );
        assert_eq!(
            machine_for(Aws, "A10G", 1).map(|m| m.instance_type),
            Some("g5.xlarge")
        );
        assert_eq!(
            machine_for(Aws, "L4", 1).map(|m| m.instance_type),
            Some("g6.xlarge")
        );
        assert!(machine_for(Aws, "L4", 3).is_none());
    }

    #[test]
    fn every_accelerator_in_the_catalog_is_a_schema_accelerator() {
        for m in MACHINES {
            assert!(
                crate::ACCELERATORS.contains(&m.accelerator),
                "{} is not in ACCELERATORS",
                m.accelerator
            );
            assert!(m.gpus > 0 && m.vcpus > 0 && m.memory_gib > 0);
        }
    }

    #[test]
    fn one_default_per_shape() {
        for (i, a) in MACHINES.iter().enumerate() {
            for b in &MACHINES[i + 1..] {
                assert!(
                    !(a.cloud == b.cloud && a.accelerator == b.accelerator && a.gpus == b.gpus),
                    "{a:?} and {b:?} share a shape"
                );
                assert!(a.instance_type != b.instance_type || a.cloud != b.cloud);
            }
        }
    }

    #[test]
    fn reasons_name_what_is_offered() {
        let r = no_machine_reason(Aws, "L4", 3);
        assert!(r.contains("1, 4, 8"), "{r}");
        let r = no_machine_reason(Aws, "A10", 1);
        assert!(r.contains("no A10 machines"), "{r}");
    }
}
