# A real-time scoring endpoint on Azure ML with a canary rollout.

variable "name" {
  type = string
}

variable "image" {
  type = string
}

variable "artifact" {
  type = string
}

variable "instance_type" {
  type    = string
  default = "Standard_NC4as_T4_v3"
}

variable "tags" {
  type    = map(string)
  default = {}
}

endpoint "this" {
  cloud    = "azure"
  name     = var.name
  model    = { image = var.image, artifact = var.artifact }
  instance = { type = var.instance_type, count = 2 }
  tags     = var.tags
  autoscaling {
    min                             = 1
    max                             = 8
    target_invocations_per_instance = 100
  }
  rollout {
    strategy       = "canary"
    canary_percent = 10
    bake_minutes   = 15
  }
}

output "url" {
  value = endpoint.this.url
}
