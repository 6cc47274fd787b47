locals {
  # The checked-in, reproducible bundle (scripts/bundle.py): its hash changes only when the sources do, so a
  # plan shows no diff until they do.
  filename = coalesce(var.filename, "${path.module}/../../lambdas/dist/acquire_lock.zip")
  handler  = "acquire_lock.handler.lambda_handler"

  role_name      = coalesce(var.role_name, var.name)
  log_group_name = "/aws/lambda/${var.name}"

  # A dead-letter target receives failed asynchronous invocations; the role may send to that one target only.
  dead_letter_action = var.dead_letter_target_arn == null ? null : (
    length(regexall("^arn:[^:]+:sqs:", var.dead_letter_target_arn)) > 0 ? "sqs:SendMessage" : "sns:Publish"
  )
}

################################################################################
# Function
################################################################################

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:It calls only DynamoDB, on a table its role alone may touch; a VPC would add network interfaces, slower cold starts and ec2 permissions, with a gateway endpoint to run
  #checkov:skip=CKV_AWS_272:The package is uploaded from the reproducible, checked-in zip whose hash is source_code_hash; AWS Signer signs only packages in S3
  function_name    = var.name
  description      = "Grants slots of semaphores in ${var.lock_table_name} under a concurrency limit and an optional warm-up rate."
  role             = aws_iam_role.this.arn
  filename         = local.filename
  source_code_hash = filebase64sha256(local.filename)
  handler          = local.handler
  runtime          = var.runtime
  memory_size      = var.memory_size
  timeout          = var.timeout
  kms_key_arn      = var.kms_key_arn

  reserved_concurrent_executions = var.reserved_concurrent_executions

  # Empty METRICS_NAMESPACE: the function prints no metrics (lambdas/semaphore_core/metrics.py).
  environment {
    variables = {
      LOCK_TABLE_NAME   = var.lock_table_name
      LOCK_ID_ATTRIBUTE = var.lock_id_attribute
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

  # The log group must exist before the first invocation (the role may not create it), and the role must
  # carry its policy, or the first grants fail with AccessDenied.
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.cloudwatch_log_group_retention_in_days
  kms_key_id        = var.cloudwatch_log_group_kms_key_id
  tags              = var.tags
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
  # A grant is one UpdateItem (which also creates a missing lock item, so no PutItem); GetItem classifies a
  # refusal where DynamoDB returns no old item with the failed condition. The lock table only.
  statement {
    sid       = "LockTable"
    actions   = ["dynamodb:UpdateItem", "dynamodb:GetItem"]
    resources = [var.lock_table_arn]
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
  name   = "acquire-lock"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
