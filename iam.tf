locals {
  create_role = var.role_arn == null
  role_arn    = local.create_role ? aws_iam_role.this[0].arn : var.role_arn
}

data "aws_partition" "current" {}

data "aws_iam_policy_document" "assume_role" {
  count = local.create_role ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  count = local.create_role ? 1 : 0

  name                 = "${var.name}-semaphore"
  assume_role_policy   = data.aws_iam_policy_document.assume_role[0].json
  permissions_boundary = var.role_permissions_boundary
  tags                 = var.tags
}

data "aws_iam_policy_document" "this" {
  count = local.create_role ? 1 : 0

  # The semaphore itself: read and conditionally update items of its own lock table, nothing else. With a
  # lock name from the execution input it also writes and deletes its index item (docs/lock-item.md). In
  # queue mode the queue Lambdas do all of it: the state machine touches no table.
  dynamic "statement" {
    for_each = local.queue ? [] : [1]

    content {
      sid       = "LockTable"
      actions   = concat(["dynamodb:GetItem", "dynamodb:UpdateItem"], local.dynamic_lock_name ? ["dynamodb:PutItem", "dynamodb:DeleteItem"] : [])
      resources = [local.lock_table_arn]
    }
  }

  # Warm-up: the acquire state invokes the acquirer Lambda, and only it.
  dynamic "statement" {
    for_each = local.use_acquirer ? [1] : []

    content {
      sid       = "AcquirerLambda"
      actions   = ["lambda:InvokeFunction"]
      resources = [module.acquirer[0].function_arn]
    }
  }

  # Queue mode: the acquire and release states invoke the two queue Lambdas, and only them.
  dynamic "statement" {
    for_each = local.queue ? [1] : []

    content {
      sid       = "QueueLambdas"
      actions   = ["lambda:InvokeFunction"]
      resources = [module.queue[0].acquire_function_arn, module.queue[0].release_function_arn]
    }
  }

  # A lock table encrypted with your key: the role may use that key, and only through DynamoDB, so its reads
  # and writes work whether the key policy grants DynamoDB's callers directly or delegates to IAM.
  dynamic "statement" {
    for_each = var.lock_table_kms_key_arn != null && !local.queue ? [1] : []

    content {
      sid       = "LockTableKey"
      actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
      resources = [var.lock_table_kms_key_arn]

      condition {
        test     = "StringLike"
        variable = "kms:ViaService"
        values   = ["dynamodb.*.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }

  # Step Functions delivers logs through CloudWatch Logs' vended-log APIs, which have no resource-level
  # permissions: AWS documents Resource "*" for these actions.
  dynamic "statement" {
    for_each = var.logging_level != "OFF" ? [1] : []

    content {
      sid = "ExecutionLogDelivery"
      actions = [
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
      ]
      resources = ["*"]
    }
  }

  # X-Ray trace APIs have no resource-level permissions either.
  dynamic "statement" {
    for_each = var.tracing_enabled ? [1] : []

    content {
      sid = "XRayTracing"
      actions = [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  count = local.create_role ? 1 : 0

  name   = "semaphore"
  role   = aws_iam_role.this[0].id
  policy = data.aws_iam_policy_document.this[0].json
}

resource "aws_iam_role_policy" "extra" {
  count = local.create_role && var.role_policy_json != null ? 1 : 0

  name   = "work"
  role   = aws_iam_role.this[0].id
  policy = var.role_policy_json
}
