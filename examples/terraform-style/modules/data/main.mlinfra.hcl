variable "env" {
  type = string
}

variable "datasets" {
  type        = list(string)
  description = "One versioned S3 bucket per dataset."
}

locals {
  names = formatlist("acme-%s-%s", var.env, var.datasets)
}

bucket "datasets" {
  for_each      = zipmap(var.datasets, local.names)
  cloud         = "aws"
  name          = each.value
  versioning    = true
  force_destroy = true

  lifecycle {
    precondition {
      condition     = length(each.value) <= 63
      error_message = "S3 bucket names are at most 63 characters; ${each.value} is longer"
    }
  }
}

bucket "features" {
  cloud    = "gcp"
  name     = "acme-${var.env}-features"
  location = "us-central1"
}

output "feature_bucket" {
  value = bucket.features.name
}

output "urls" {
  value = formatlist("s3://%s", [for b in bucket.datasets : b.name])
}
