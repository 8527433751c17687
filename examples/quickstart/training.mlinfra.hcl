# Training on AWS: one EKS cluster, one GPU pool per entry of var.gpu_pools.

cluster "train" {
  cloud              = "aws"
  name               = "${local.name_prefix}-train"
  kubernetes_version = "1.31"
  subnet_ids         = ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]
  role_arn           = "arn:aws:iam::123456789012:role/eks-control-plane"
  tags               = local.tags
}

gpu_pool "training" {
  for_each = var.gpu_pools

  cluster       = cluster.train
  name          = "${local.name_prefix}-${each.key}"
  accelerator   = each.value.accelerator
  gpus_per_node = each.value.gpus_per_node
  min_nodes     = 0
  max_nodes     = each.value.max_nodes
  capacity      = coalesce(each.value.capacity, "on_demand")
  labels        = merge(local.tags, { "mlinfra.dev/pool" = each.key })
  taints        = [{ key = "nvidia.com/gpu", value = "present", effect = "NoSchedule" }]
  node_role_arn = "arn:aws:iam::123456789012:role/eks-gpu-nodes"

  # For cost estimates: the pools scale to zero, and run about 4 nodes during working hours.
  usage {
    average_nodes   = 4
    hours_per_month = 360
  }
}

priority_class "high" {
  value       = 1000
  description = "Production training runs"
}

queue "research" {
  pools           = [gpu_pool.training["h100"], gpu_pool.training["a100"]]
  nominal_gpus    = 64
  borrowing_limit = 32
  cohort          = "ml"
  priority        = priority_class.high
  namespaces      = ["research"]
}

# Shared GPUs for notebooks: L4s time-sliced four ways, and an H100 split into MIG slices.
gpu_pool "notebooks" {
  cluster       = cluster.train
  name          = "${local.name_prefix}-notebooks"
  accelerator   = "L4"
  gpus_per_node = 1
  max_nodes     = 8
  node_role_arn = "arn:aws:iam::123456789012:role/eks-gpu-nodes"

  sharing {
    mode     = "time_slicing"
    replicas = 4
  }

  usage {
    average_nodes = 2
  }
}

gpu_pool "mig" {
  cluster       = cluster.train
  name          = "${local.name_prefix}-mig"
  accelerator   = "H100"
  gpus_per_node = 1
  max_nodes     = 4
  node_role_arn = "arn:aws:iam::123456789012:role/eks-gpu-nodes"

  sharing {
    mode    = "mig"
    profile = "1g.10gb"
  }

  usage {
    average_nodes   = 1
    hours_per_month = 200
  }
}

queue "notebooks" {
  pools        = [gpu_pool.notebooks, gpu_pool.mig]
  nominal_gpus = { notebooks = 6, mig = 2 }
  cohort       = "ml"
  namespaces   = ["notebooks"]
}

# `plan` and `cost` exit 3 when the training spend would go over this.
budget "training" {
  monthly_limit_usd = 75000
  scope             = ["gpu_pool", "cluster.train"]
}
