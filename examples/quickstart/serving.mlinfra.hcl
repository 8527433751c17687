# Serving on Azure, through the local module in modules/serving.

module "serving" {
  source = "./modules/serving"

  name     = "fraud-scorer"
  image    = "${container_registry.images.url}:${var.scorer_image_tag}"
  artifact = "gs://${bucket.features.name}/models/fraud/model.tar.gz"
  tags     = local.tags
}

output "endpoint_url" {
  value       = module.serving.url
  description = "Where to send scoring requests."
}

output "training_pools" {
  value = { for k, p in gpu_pool.training : k => p.name }
}
