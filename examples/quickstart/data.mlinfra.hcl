# Data and models: datasets on S3, features and the model registry on GCP.

bucket "datasets" {
  cloud      = "aws"
  name       = "${local.name_prefix}-datasets"
  versioning = true
  tags       = local.tags

  # For cost estimates only: about 60 TB of training data, read often.
  usage {
    storage_gb         = 61440
    requests_per_month = 2000000
  }
}

bucket "features" {
  cloud = "gcp"
  name  = "${local.name_prefix}-features"
  tags  = local.tags

  usage {
    storage_gb               = 2048
    requests_per_month       = 50000000
    write_requests_per_month = 5000000
  }
}

container_registry "images" {
  cloud          = "aws"
  name           = "${local.name_prefix}/scorer"
  immutable_tags = true

  usage {
    storage_gb = 120
  }
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
  cloud         = "gcp"
  description   = "Fraud scoring models"
  serving_image = "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-3:latest"
}
