provider "aws" {
  region = var.region
}

# At most `concurrency_limit` executions run the work at once; the work here is a Wait standing in for a call
# to something fragile (a database, a rate-limited API).
module "sfn_semaphore" {
  source = "../../"

  name                 = var.name
  concurrency_limit    = var.concurrency_limit
  acquire_wait_seconds = var.acquire_wait_seconds

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
    Example = "basic"
  }
}
