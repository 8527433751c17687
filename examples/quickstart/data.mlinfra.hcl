# Data and models: datasets on S3, features and the model registry on GCP.

bucket "datasets" {
  cloud      = "aws"
  name       = "${local.name_prefix}-datasets"
  versioning = true
  tags       = local.tags
}

bucket "features" {
  cloud = "gcp"
  name  = "${local.name_prefix}-features"
  tags  = local.tags
}

container_registry "images" {
  cloud          = "aws"
  name           = "${local.name_prefix}/scorer"
  immutable_tags = true
}

feature_store "fraud" {
  cloud = "gcp"
  offline {
    bucket = bucket.features.name
  }
  online {
    enabled = true
    ttl     = "7d"
    nodes   = 1
  }
  feature_group "transactions" {
    record_id  = "txn_id"
    event_time = "ts"
    features   = { amount = "float", merchant = "string", ts = "string", txn_id = "string" }
  }
}

model_registry "fraud" {
  cloud       = "gcp"
  description = "Fraud scoring models"
}
