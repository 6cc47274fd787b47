# The benchmark's poll mode: the module as a user gets it by default (acquire_mode "poll"), with the same work
# as every other mode: a Wait of work_seconds named "Do work".
module "semaphore" {
  source = "../../.."

  name                 = var.name
  concurrency_limit    = var.concurrency_limit
  per_item_concurrency = var.weight
  acquire_wait_seconds = var.acquire_wait_seconds
  warmup_tps_limit     = var.warmup_tps_limit

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
}
