# A configuration written the way Terraform modules are: a module per concern,
# `dynamic` blocks from a map, a `moved` block for a refactor, a `check` block,
# preconditions, and string functions such as formatlist.

variable "env" {
  type        = string
  default     = "dev"
  description = "Deployment environment; part of every bucket name."
}

variable "feature_groups" {
  description = "Feature groups of the fraud feature store, by name."
  type = map(object({
    record_id = string
    features  = map(string)
  }))
  default = {
    transactions = {
      record_id = "txn_id"
      features  = { txn_id = "string", amount = "float", ts = "string" }
    }
    merchants = {
      record_id = "merchant_id"
      features  = { merchant_id = "string", risk = "float", ts = "string" }
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

provider "gcp" {
  project = "acme-ml"
  region  = "us-central1"
}

module "data" {
  source   = "./modules/data"
  env      = var.env
  datasets = ["raw", "curated"]
}

# The raw bucket used to be declared here as `bucket "raw"`; it now lives in the
# module. The block keeps the bucket (and its data) instead of replacing it.
moved {
  from = bucket.raw
  to   = module.data.bucket.datasets["raw"]
}

feature_store "fraud" {
  cloud = "gcp"
  offline {
    bucket = module.data.feature_bucket
  }

  dynamic "feature_group" {
    for_each = var.feature_groups
    iterator = group
    labels   = [group.key]
    content {
      record_id  = group.value.record_id
      event_time = "ts"
      features   = group.value.features
    }
  }
}

check "point_in_time" {
  assert {
    condition     = alltrue([for g in var.feature_groups : contains(keys(g.features), "ts")])
    error_message = "every feature group needs a ts feature for point-in-time joins"
  }
}

output "dataset_urls" {
  value = module.data.urls
}
