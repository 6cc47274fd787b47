provider "aws" {
  region = var.region
}

# Two semaphores with different limits on one lock table: the first creates the table, the second uses it.
# Each has its own lock item, so their limits are independent.
module "database" {
  source = "../../"

  name              = "${var.name_prefix}-database"
  lock_table_name   = "${var.name_prefix}-locks"
  concurrency_limit = var.database_limit
  work_definition   = local.work

  tags = local.tags
}

module "partner_api" {
  source = "../../"

  name              = "${var.name_prefix}-partner-api"
  create_lock_table = false
  lock_table_name   = module.database.lock_table_name
  concurrency_limit = var.partner_api_limit
  work_definition   = local.work

  tags = local.tags
}

locals {
  tags = {
    Example = "shared-table"
  }

  work = jsonencode({
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
