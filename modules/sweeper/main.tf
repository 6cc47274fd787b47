locals {
  # The checked-in, reproducible bundle (scripts/bundle.py): its hash changes only when the sources do.
  filename = coalesce(var.filename, "${path.module}/../../lambdas/dist/sweeper.zip")
  handler  = "sweeper.handler.lambda_handler"

  role_name      = coalesce(var.role_name, var.name)
  log_group_name = "/aws/lambda/${var.name}"

  # AWS writes "rate(1 minute)" but "rate(5 minutes)".
  schedule_expression = var.schedule_interval_minutes == 1 ? "rate(1 minute)" : "rate(${var.schedule_interval_minutes} minutes)"

  # DescribeExecution on the executions of the listed state machines only:
  # arn:...:states:REGION:ACCOUNT:stateMachine:NAME -> arn:...:states:REGION:ACCOUNT:execution:NAME:*
  execution_arn_patterns = [for arn in var.state_machine_arns : "${replace(arn, ":stateMachine:", ":execution:")}:*"]

  # A dead-letter target receives failed asynchronous invocations; the role may send to that one target only.
  dead_letter_action = var.dead_letter_target_arn == null ? null : (
    length(regexall("^arn:[^:]+:sqs:", var.dead_letter_target_arn)) > 0 ? "sqs:SendMessage" : "sns:Publish"
  )
}

data "aws_partition" "current" {}

################################################################################
# Function
################################################################################

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:It calls only DynamoDB and Step Functions, with IAM auth over TLS; a VPC would add network interfaces, slower cold starts and ec2 permissions, with endpoints to run
  #checkov:skip=CKV_AWS_272:The package is uploaded from the reproducible, checked-in zip whose hash is source_code_hash; AWS Signer signs only packages in S3
  function_name    = var.name
  description      = "Gives back semaphore slots whose holders' executions are no longer running (every ${var.schedule_interval_minutes} min)."
  role             = aws_iam_role.this.arn
  filename         = local.filename
  source_code_hash = filebase64sha256(local.filename)
  handler          = local.handler
  runtime          = var.runtime
  memory_size      = var.memory_size
  timeout          = var.timeout
  kms_key_arn      = var.kms_key_arn

  reserved_concurrent_executions = var.reserved_concurrent_executions

  environment {
    variables = {
      LOCK_TABLES         = jsonencode({ for table in var.lock_tables : table.name => table.lock_id_attribute })
      STATE_MACHINE_ARNS  = jsonencode(var.state_machine_arns)
      LOCK_LEASE_SECONDS  = var.lock_lease_seconds == null ? "" : tostring(var.lock_lease_seconds)
      MAX_ITEMS_PER_RUN   = tostring(var.max_items_per_run)
      MAX_SECONDS_PER_RUN = tostring(var.timeout)
      # Queue mode: releases go through the queue release function, which hands the slot on.
      QUEUE_RELEASE_FUNCTION = var.queue_release_function_arn == null ? "" : var.queue_release_function_arn
      # Empty: the function prints no metrics (lambdas/semaphore_core/metrics.py).
      METRICS_NAMESPACE = var.metrics_namespace == null ? "" : var.metrics_namespace
      METRICS_SEMAPHORE = var.metrics_semaphore == null ? var.name : var.metrics_semaphore
    }
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

  # The log group must exist before the first run (the role may not create it), and the role must carry its
  # policy, or the first sweeps fail with AccessDenied.
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.cloudwatch_log_group_retention_in_days
  kms_key_id        = var.cloudwatch_log_group_kms_key_id
  tags              = var.tags
}

################################################################################
# Schedule
################################################################################

resource "aws_cloudwatch_event_rule" "this" {
  name                = var.name
  description         = "Runs the semaphore sweeper ${var.name} every ${var.schedule_interval_minutes} min."
  schedule_expression = local.schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "this" {
  rule      = aws_cloudwatch_event_rule.this.name
  target_id = "sweeper"
  arn       = aws_lambda_function.this.arn
}

resource "aws_lambda_permission" "schedule" {
  statement_id  = "RunOnSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.this.arn
}

################################################################################
# IAM
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
  # Scan the lock tables, release a holder (conditional UpdateItem), delete an index item: those tables only.
  statement {
    sid       = "LockTables"
    actions   = ["dynamodb:Scan", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [for table in var.lock_tables : table.arn]
  }

  # Whether a holder's execution still runs: executions of the listed state machines only.
  statement {
    sid       = "DescribeExecutions"
    actions   = ["states:DescribeExecution"]
    resources = local.execution_arn_patterns
  }

  # Queue mode: release through the queue release function (it settles and resumes the next waiters).
  dynamic "statement" {
    for_each = var.queue_release_function_arn != null ? [var.queue_release_function_arn] : []

    content {
      sid       = "QueueRelease"
      actions   = ["lambda:InvokeFunction"]
      resources = [statement.value]
    }
  }

  # Lock tables encrypted with your keys: those keys, through DynamoDB only.
  dynamic "statement" {
    for_each = length(var.lock_table_kms_key_arns) > 0 ? [1] : []

    content {
      sid       = "LockTableKeys"
      actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
      resources = var.lock_table_kms_key_arns

      condition {
        test     = "StringLike"
        variable = "kms:ViaService"
        values   = ["dynamodb.*.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }

  # Its own log group only; the log group is created above, so no logs:CreateLogGroup.
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
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
  name   = "sweeper"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
