provider "aws" {
  region = var.region
}

# One independent limit per customer: the lock name comes from the execution input ($.customerId), and each
# customer's lock item is created on its first acquisition.
module "sfn_semaphore" {
  source = "../../"

  name              = var.name
  lock_name_path    = "$.customerId"
  concurrency_limit = var.concurrency_limit

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
    Example = "per-key"
  }
}
