provider "aws" {
  region = var.region
}

# A resource that must be ramped up (an OCR service that throttles when many jobs arrive in the same second):
# at most 5 jobs at once, and at most 2 new grants per second.
module "sfn_semaphore" {
  source = "../../"

  name                 = var.name
  concurrency_limit    = var.concurrency_limit
  warmup_tps_limit     = var.warmup_tps_limit
  acquire_wait_seconds = var.acquire_wait_seconds
  lambda_runtime       = var.lambda_runtime
  metrics_namespace    = var.metrics_namespace

  work_definition = jsonencode({
    StartAt = "Do work"
    States = {
      "Do work" = {
        Type    = "Wait"
        Seconds = var.work_seconds
        End     = true
      }
    }
  })

  tags = {
    Example = "warmup"
  }
}
