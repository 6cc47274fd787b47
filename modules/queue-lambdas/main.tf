locals {
  # The checked-in, reproducible bundles (scripts/bundle.py): their hashes change only when the sources do.
  functions = {
    acquire = {
      name        = "${var.name}-queue-acquire"
      filename    = coalesce(var.acquire_filename, "${path.module}/../../lambdas/dist/queue_acquire.zip")
      handler     = "queue_acquire.handler.lambda_handler"
      description = "Queues executions for semaphore slots in ${var.lock_table_name} and resumes them in arrival order (queue mode)."
    }
    release = {
      name        = "${var.name}-queue-release"
      filename    = coalesce(var.release_filename, "${path.module}/../../lambdas/dist/queue_release.zip")
      handler     = "queue_release.handler.lambda_handler"
      description = "Gives semaphore slots in ${var.lock_table_name} back and hands them to the oldest waiters (queue mode)."
    }
  }

  role_name = coalesce(var.role_name, "${var.name}-queue")

  # DescribeExecution on the executions of the listed state machines only:
  # arn:...:states:REGION:ACCOUNT:stateMachine:NAME -> arn:...:states:REGION:ACCOUNT:execution:NAME:*
  execution_arn_patterns = [for arn in var.state_machine_arns : "${replace(arn, ":stateMachine:", ":execution:")}:*"]

  # The release settles the queue with the semaphore's own limits (the reaper and the sweeper call it
  # without them); the acquire gets them in its event.
  # Empty METRICS_NAMESPACE: the functions print no metrics (lambdas/semaphore_core/metrics.py).
  metrics = {
    METRICS_NAMESPACE = var.metrics_namespace == null ? "" : var.metrics_namespace
    METRICS_SEMAPHORE = var.metrics_semaphore == null ? var.name : var.metrics_semaphore
  }

  environment = {
    acquire = merge(local.metrics, {
      LOCK_TABLE_NAME   = var.lock_table_name
      LOCK_ID_ATTRIBUTE = var.lock_id_attribute
    })
    release = merge(local.metrics, {
      LOCK_TABLE_NAME     = var.lock_table_name
      LOCK_ID_ATTRIBUTE   = var.lock_id_attribute
      SEMAPHORE_LIMIT     = tostring(var.concurrency_limit)
      SEMAPHORE_TPS_LIMIT = var.warmup_tps_limit == null ? "" : tostring(var.warmup_tps_limit)
    })
  }

  # A dead-letter target receives failed asynchronous invocations (the reaper's calls of the release);
  # the role may send to that one target only.
  dead_letter_action = var.dead_letter_target_arn == null ? null : (
    length(regexall("^arn:[^:]+:sqs:", var.dead_letter_target_arn)) > 0 ? "sqs:SendMessage" : "sns:Publish"
  )
}

data "aws_partition" "current" {}

################################################################################
# Functions
################################################################################

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:They call only DynamoDB and Step Functions, with IAM auth over TLS; a VPC would add network interfaces, slower cold starts and ec2 permissions, with endpoints to run
  #checkov:skip=CKV_AWS_272:The packages are uploaded from the reproducible, checked-in zips whose hashes are source_code_hash; AWS Signer signs only packages in S3
  for_each = local.functions

  function_name    = each.value.name
  description      = each.value.description
  role             = aws_iam_role.this.arn
  filename         = each.value.filename
  source_code_hash = filebase64sha256(each.value.filename)
  handler          = each.value.handler
  runtime          = var.runtime
  memory_size      = var.memory_size
  timeout          = var.timeout
  kms_key_arn      = var.kms_key_arn

  reserved_concurrent_executions = var.reserved_concurrent_executions

  environment {
    variables = local.environment[each.key]
  }

  dynamic "dead_letter_config" {
    for_each = var.dead_letter_target_arn != null ? [var.dead_letter_target_arn] : []

    content {
      target_arn = dead_letter_config.value
    }
  }

  # Always set (PassThrough is Lambda's own default), so scanners see the mode the function really has.
  tracing_config {
    mode = var.tracing_mode
  }

  tags = var.tags

  # The log groups must exist before the first invocation (the role may not create them), and the role must
  # carry its policy, or the first calls fail with AccessDenied.
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = local.functions

  name              = "/aws/lambda/${each.value.name}"
  retention_in_days = var.cloudwatch_log_group_retention_in_days
  kms_key_id        = var.cloudwatch_log_group_kms_key_id
  tags              = var.tags
}

################################################################################
# IAM (one role for both functions: they need the same access)
################################################################################

data "aws_iam_policy_document" "assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = local.role_name
  assume_role_policy   = data.aws_iam_policy_document.assume_role.json
  permissions_boundary = var.role_permissions_boundary
  tags                 = var.tags
}

data "aws_iam_policy_document" "this" {
  # The lock item is read (consistently) and changed by conditional writes: single updates (an arrival's
  # append or grant, a release's targeted write) or whole-item puts; per-execution items are written, read
  # and deleted. No Query or Scan: the lock table only.
  statement {
    sid       = "LockTable"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [var.lock_table_arn]
  }

  # Resume (or nudge) a waiting task by its token. AWS authorizes these callbacks on no resource type: a
  # task token is the capability, so Resource "*" is the only form the actions take.
  statement {
    sid       = "TaskCallbacks"
    actions   = ["states:SendTaskSuccess", "states:SendTaskFailure"]
    resources = ["*"]
  }

  # Whether a granted execution whose token is dead has ended: this semaphore's executions only.
  statement {
    sid       = "DescribeExecutions"
    actions   = ["states:DescribeExecution"]
    resources = local.execution_arn_patterns
  }

  # A lock table encrypted with your key: that key, through DynamoDB only.
  dynamic "statement" {
    for_each = var.lock_table_kms_key_arn != null ? [var.lock_table_kms_key_arn] : []

    content {
      sid       = "LockTableKey"
      actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
      resources = [statement.value]

      condition {
        test     = "StringLike"
        variable = "kms:ViaService"
        values   = ["dynamodb.*.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }

  # Their own log groups only; the log groups are created above, so no logs:CreateLogGroup.
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for group in aws_cloudwatch_log_group.this : "${group.arn}:*"]
  }

  # Only when a dead-letter target is set: AWS refuses the function otherwise.
  dynamic "statement" {
    for_each = local.dead_letter_action != null ? [local.dead_letter_action] : []

    content {
      sid       = "DeadLetterTarget"
      actions   = [statement.value]
      resources = [var.dead_letter_target_arn]
    }
  }

  # Only with active tracing. X-Ray's trace APIs have no resource-level permissions.
  dynamic "statement" {
    for_each = var.tracing_mode == "Active" ? [1] : []

    content {
      sid       = "XRayTracing"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "queue"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
