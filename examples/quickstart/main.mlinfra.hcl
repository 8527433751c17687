# A multi-cloud ML platform: train on AWS, keep features and models on GCP,
# serve on Azure. Plan it offline with: mlinfra -chdir=examples/quickstart plan

mlinfra {
  required_version = ">= 0.1"
  backend "local" {
    path = "mlinfra.state.json"
  }
}

variable "env" {
  type        = string
  default     = "prod"
  description = "Deployment environment."
  validation {
    condition     = contains(["dev", "prod"], var.env)
    error_message = "env must be dev or prod"
  }
}

variable "gpu_pools" {
  description = "Training GPU pools, by name."
  type = map(object({
    accelerator   = string
    gpus_per_node = number
    max_nodes     = number
    capacity      = optional(string)
  }))
  default = {
    h100 = { accelerator = "H100", gpus_per_node = 8, max_nodes = 16, capacity = "spot" }
    a100 = { accelerator = "A100-80GB", gpus_per_node = 8, max_nodes = 4 }
  }
}

variable "scorer_image_tag" {
  type    = string
  default = "3"
}

locals {
  tags = {
    env   = var.env
    owner = "ml-platform"
  }
  name_prefix = "acme-${var.env}"
}

provider "aws" {
  region = "us-east-1"
}

provider "gcp" {
  project = "acme-ml"
  region  = "us-central1"
}

provider "azure" {
  subscription_id = "00000000-0000-0000-0000-000000000000"
  location        = "eastus"
  resource_group  = "ml-serving"
}
