provider "aws" {
  region = var.region
}

# At most 4 executions (counted by weight) in the work at once. A waiting execution joins the lock's FIFO
# queue and sleeps, unbilled, until a release hands it the slot: no polling, no overtaking, and a freed slot
# is handed on at once.
module "sfn_semaphore" {
  source = "../../"

  name              = var.name
  concurrency_limit = var.concurrency_limit
  acquire_mode      = "queue"

  lock_name_path        = var.lock_name_path
  per_item_concurrency  = var.per_item_concurrency
  max_queue_length      = var.max_queue_length
  queue_recheck_seconds = var.queue_recheck_seconds
  warmup_tps_limit      = var.warmup_tps_limit
  lambda_runtime        = var.lambda_runtime
  metrics_namespace     = var.metrics_namespace

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
    Example = "queue"
  }
}
