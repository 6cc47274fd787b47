provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  # The module names its execution log group after the state machine; the key policy below names it too.
  log_group_name = "/aws/vendedlogs/states/${var.name}"
  log_group_arn  = "arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:${local.log_group_name}"

  # The module's other log groups use the same key: the reaper's execution logs and the sweeper Lambda's logs.
  log_group_arns = [
    local.log_group_arn,
    "arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:/aws/vendedlogs/states/${var.name}-reaper",
    "arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:/aws/lambda/${var.name}-sweeper",
  ]
}

# A semaphore with everything a security review asks for turned on: the lock table and the execution logs
# encrypted with a customer-managed key, execution logging (state transitions, no execution data), a year of
# log retention and X-Ray tracing.
module "sfn_semaphore" {
  source = "../../"

  name              = var.name
  concurrency_limit = var.concurrency_limit

  lock_table_kms_key_arn = aws_kms_key.this.arn

  logging_level                          = "ALL"
  logging_include_execution_data         = false
  cloudwatch_log_group_retention_in_days = 365
  cloudwatch_log_group_kms_key_arn       = aws_kms_key.this.arn

  tracing_enabled = true

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
    Example = "encrypted"
  }
}

################################################################################
# Customer-managed key for the lock table and the execution log group
################################################################################

resource "aws_kms_key" "this" {
  description             = "Encrypts the ${var.name} semaphore's lock table and execution logs."
  deletion_window_in_days = 7
  enable_key_rotation     = true
  policy                  = data.aws_iam_policy_document.key.json

  tags = {
    Example = "encrypted"
  }
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "key" {
  # The account's default key policy statement: key administration and use are left to IAM policies. The
  # semaphore's role gets use of the key through DynamoDB from the module (lock_table_kms_key_arn).
  #checkov:skip=CKV_AWS_109:Key policy: "*" is this key, and kms:* for the account root delegates to IAM (AWS's default key policy)
  #checkov:skip=CKV_AWS_111:Key policy: "*" is this key, and kms:* for the account root delegates to IAM (AWS's default key policy)
  #checkov:skip=CKV_AWS_356:Key policy: a key policy's Resource "*" means this key only
  statement {
    sid       = "AccountAdministersThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts and decrypts the module's log groups' data (execution logs, the reaper's and the
  # sweeper's), and no other log group's. No kms:DescribeKey here, though AWS's sample policy lists Describe*:
  # a DescribeKey request carries no encryption context, so under this condition it would never be allowed.
  statement {
    sid = "CloudWatchLogsForTheExecutionLogGroup"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.${data.aws_partition.current.dns_suffix}"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = local.log_group_arns
    }
  }
}
