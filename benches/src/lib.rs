//! Generated manifests for benchmarks of parse, evaluation and plan.

use std::fmt::Write as _;
use std::path::Path;

/// mimalloc's `purge_delay` option: its place in `mi_option_e` of mimalloc 3.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// What the CLI's `main` does first: the allocator keeps the memory it frees for the next
/// allocation, instead of returning it to the system and faulting it in again (on this
/// project's benchmark machine, faulting in a page costs more than the plan's use of it).
#[allow(unsafe_code)]
pub fn keep_freed_memory() {
    // mimalloc's own setting in the environment, when there is one, is left to apply.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: stores one option value; called first thing in `main`, before any
        // thread that could read it starts.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
    }
}

/// Write a configuration of about `n` resources into `dir`: clusters with GPU pools,
/// buckets and endpoints that refer to them, spread over several files.
pub fn write_manifest(dir: &Path, n: usize) -> std::io::Result<()> {
    let groups = n.div_ceil(10);
    let files = 10.min(groups.max(1));
    let mut texts = vec![String::new(); files];
    texts[0].push_str(
        "provider \"aws\" {\n  region = \"us-east-1\"\n}\n\nlocals {\n  tags = { env = \"bench\", owner = \"ml-platform\" }\n}\n\n",
    );
    let mut count = 0;
    for g in 0..groups {
        let t = &mut texts[g % files];
        let _ = write!(
            t,
            "cluster \"c{g}\" {{\n  cloud      = \"aws\"\n  subnet_ids = [\"subnet-{g}a\", \"subnet-{g}b\"]\n  role_arn   = \"arn:aws:iam::123456789012:role/eks-{g}\"\n  tags       = local.tags\n}}\n\n"
        );
        count += 1;
        for p in 0..4 {
            if count >= n {
                break;
            }
            let _ = write!(
                t,
                "gpu_pool \"c{g}-p{p}\" {{\n  cluster       = cluster.c{g}\n  accelerator   = \"H100\"\n  gpus_per_node = 8\n  max_nodes     = {}\n  labels        = merge(local.tags, {{ pool = \"p{p}\" }})\n  taints        = [{{ key = \"nvidia.com/gpu\", value = \"present\", effect = \"NoSchedule\" }}]\n  node_role_arn = \"arn:aws:iam::123456789012:role/nodes-{g}\"\n}}\n\n",
                p + 1
            );
            count += 1;
        }
        for b in 0..3 {
            if count >= n {
                break;
            }
            let _ = write!(t, "bucket \"c{g}-b{b}\" {{\n  cloud = \"aws\"\n  name  = \"bench-${{cluster.c{g}.name}}-{b}\"\n  tags  = local.tags\n}}\n\n");
            count += 1;
        }
        for e in 0..2 {
            if count >= n {
                break;
            }
            let _ = write!(
                t,
                "endpoint \"c{g}-e{e}\" {{\n  cloud    = \"aws\"\n  role_arn = \"arn:aws:iam::123456789012:role/sagemaker\"\n  model    = {{ image = \"123456789012.dkr.ecr.us-east-1.amazonaws.com/m:{e}\", artifact = \"s3://${{bucket.c{g}-b0.name}}/model.tar.gz\" }}\n  instance = {{ type = \"ml.g4dn.xlarge\", count = 2 }}\n  autoscaling {{\n    min = 1\n    max = 4\n  }}\n}}\n\n"
            );
            count += 1;
        }
    }
    for (i, t) in texts.iter().enumerate() {
        std::fs::write(dir.join(format!("gen{i:02}.mlinfra.hcl")), t)?;
    }
    Ok(())
}

/// Write `n` bucket blocks over ten files, each with a name, a storage class and tags from
/// a shared local: the shape of a large data platform's buckets.
pub fn write_buckets(dir: &Path, n: usize) -> std::io::Result<()> {
    let files = 10.min(n.max(1));
    let mut texts = vec![String::new(); files];
    texts[0].push_str(
        "provider \"aws\" {\n  region = \"us-east-1\"\n}\n\nlocals {\n  tags = { env = \"bench\", owner = \"ml-platform\" }\n}\n\n",
    );
    for i in 0..n {
        let _ = write!(
            texts[i % files],
            "bucket \"b{i}\" {{\n  cloud         = \"aws\"\n  name          = \"bench-data-{i}\"\n  storage_class = \"standard\"\n  tags          = merge(local.tags, {{ shard = \"{}\" }})\n}}\n\n",
            i % 64
        );
    }
    for (i, t) in texts.iter().enumerate() {
        std::fs::write(dir.join(format!("buckets{i:02}.mlinfra.hcl")), t)?;
    }
    Ok(())
}

/// The providers the CLI registers: the plan runs their checks.
pub fn providers() -> mlinfra_provider_api::ProviderSet {
    let mut set = mlinfra_provider_api::ProviderSet::default();
    set.add(Box::new(mlinfra_provider_aws::AwsProvider::new()));
    set.add(Box::new(mlinfra_provider_gcp::GcpProvider::new()));
    set.add(Box::new(mlinfra_provider_azure::AzureProvider::new()));
    set
}

#[cfg(test)]
mod tests {
    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_option_is_where_mimalloc_3_puts_it() {
        // Under the environment's own setting, the option is left as it says.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // Its default in mimalloc 3 is 1,000 ms: a renumbered enum would show here.
        let get = || unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(get(), 1000);
        super::keep_freed_memory();
        assert_eq!(get(), -1);
    }
    #[test]
    fn generates_exactly_n_valid_resources() {
        let dir = tempfile::tempdir().unwrap();
        super::write_manifest(dir.path(), 95).unwrap();
        let (mut config, diags) = mlinfra_engine::load(dir.path());
        assert!(!diags.has_errors());
        let n: usize = config.modules.values().map(|m| m.resources.len()).sum();
        assert_eq!(n, 95);
        let (inputs, _) = mlinfra_engine::collect_inputs(&mut config, &[], Vec::new());
        let (evaluated, diags) = mlinfra_engine::evaluate(
            &config,
            &mlinfra_engine::EvalOptions {
                inputs: &inputs,
                prior: &mlinfra_engine::NoPrior,
                replaced: &Default::default(),
            },
        );
        assert!(diags.is_empty(), "the generated manifest evaluates cleanly");
        assert_eq!(evaluated.resources.len(), 95);
    }

    #[test]
    fn bucket_manifests_are_valid() {
        let dir = tempfile::tempdir().unwrap();
        super::write_buckets(dir.path(), 25).unwrap();
        let (mut config, diags) = mlinfra_engine::load(dir.path());
        assert!(!diags.has_errors());
        let (inputs, _) = mlinfra_engine::collect_inputs(&mut config, &[], Vec::new());
        let (evaluated, diags) = mlinfra_engine::evaluate(
            &config,
            &mlinfra_engine::EvalOptions {
                inputs: &inputs,
                prior: &mlinfra_engine::NoPrior,
                replaced: &Default::default(),
            },
        );
        assert!(
            diags.is_empty(),
            "{:?}",
            diags.iter().map(|d| &d.summary).collect::<Vec<_>>()
        );
        assert_eq!(evaluated.resources.len(), 25);
    }
}
