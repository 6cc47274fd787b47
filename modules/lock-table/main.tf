# The DynamoDB table that holds one item per lock (shape: docs/lock-item.md). On-demand capacity: a semaphore's
# traffic is bursty and small, and a provisioned table that throttles would stall every waiting execution.
resource "aws_dynamodb_table" "this" {
  name         = var.name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = var.lock_id_attribute

  attribute {
    name = var.lock_id_attribute
    type = "S"
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  tags = var.tags
}
