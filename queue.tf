################################################################################
# Queue mode (acquire_mode = "queue"): FIFO handoff without polling
#
# The acquire state hands its task token to the queue acquire Lambda (lambda:invoke.waitForTaskToken), which
# queues the execution in the lock item (or grants at once) and returns; the task then waits, unbilled. The
# release state calls the queue release Lambda, which frees the slot and, in the same conditional write,
# grants it to the oldest waiters that fit, then resumes them with SendTaskSuccess. Lost wake-ups are
# recovered by the waiting task's own timeout (queue_recheck_seconds). See docs/lock-item.md for the item.
################################################################################

locals {
  queue = var.acquire_mode == "queue"

  # This machine's ARN, built from its name: the functions' role may describe its executions only, and the
  # machine itself depends on the functions (a reference would be a cycle). The account is the lock table's
  # (same account and region), which needs no look-up at plan time.
  queue_state_machine_arn = local.queue ? "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${split(":", local.lock_table_arn)[4]}:stateMachine:${coalesce(var.state_machine_name, var.name)}" : null

  # The lock item must fit in DynamoDB's 400 KB with every holder (weight 1 at worst, from any state machine
  # sharing the lock) and a full queue: lambdas/semaphore_core/capacity.py has the same figures.
  queue_item_max_bytes = 1536 + 306 * var.concurrency_limit + 286 * var.max_queue_length

  # A warm-up rate: a waiter whose turn has come but that the rate holds back re-checks after one interval.
  queue_rate_retry_seconds = local.warmup ? max(1, ceil(1 / var.warmup_tps_limit)) : 1

  # Errors after which calling a queue Lambda again is safe (its outcomes are idempotent).
  queue_retry_errors = concat(["LockContentionError", "LockThrottledError", "Sandbox.Timedout"], local.transient_lambda_errors)

  # Fail the plan with these messages (Terraform 1.0 validation cannot compare two variables).
  check_queue_type     = local.queue && var.state_machine_type != "STANDARD" ? tobool("Queue mode (acquire_mode queue) needs a STANDARD state machine: Express workflows cannot wait for a task token.") : true
  check_queue_capacity = local.queue && local.queue_item_max_bytes > 409600 ? tobool("max_queue_length (${var.max_queue_length}) is too long for concurrency_limit ${var.concurrency_limit}: the lock item could reach ${local.queue_item_max_bytes} bytes, over DynamoDB's 409600. Allow at most ${floor((409600 - 1536 - 306 * var.concurrency_limit) / 286)} waiters.") : true
}

module "queue" {
  source = "./modules/queue-lambdas"
  count  = local.queue ? 1 : 0

  name                                   = var.name
  acquire_filename                       = "${path.module}/lambdas/dist/queue_acquire.zip"
  release_filename                       = "${path.module}/lambdas/dist/queue_release.zip"
  state_machine_arns                     = distinct(concat([local.queue_state_machine_arn], var.queue_peer_state_machine_arns, var.guarded_state_machine_arns))
  concurrency_limit                      = var.concurrency_limit
  warmup_tps_limit                       = var.warmup_tps_limit
  lock_table_name                        = local.lock_table_name
  lock_table_arn                         = local.lock_table_arn
  lock_id_attribute                      = var.lock_id_attribute
  lock_table_kms_key_arn                 = var.lock_table_kms_key_arn
  runtime                                = var.lambda_runtime
  memory_size                            = var.lambda_memory_size
  reserved_concurrent_executions         = var.lambda_reserved_concurrent_executions
  kms_key_arn                            = var.lambda_kms_key_arn
  dead_letter_target_arn                 = var.lambda_dead_letter_target_arn
  tracing_mode                           = local.lambda_tracing_mode
  role_permissions_boundary              = var.role_permissions_boundary
  cloudwatch_log_group_retention_in_days = var.cloudwatch_log_group_retention_in_days
  cloudwatch_log_group_kms_key_id        = var.cloudwatch_log_group_kms_key_arn
  metrics_namespace                      = var.metrics_namespace
  metrics_semaphore                      = var.name
  tags                                   = var.tags
}

################################################################################
# Queue mode's reaper: the release Lambda itself
#
# A pure decrement (modules/reaper) would leave a freed slot idle while others queue, and cannot remove a
# waiter that ended in the queue. In queue mode the status-change rule invokes the queue release Lambda
# (asynchronously) instead: it removes the ended execution as a holder or as a waiter and hands the slot on.
# Best effort like every status event: the next settle's dead-token check and the sweeper cover a lost one.
################################################################################

resource "aws_cloudwatch_event_rule" "queue_reaper" {
  count = local.queue ? 1 : 0

  name        = "${substr(var.name, 0, 57)}-reaper"
  description = "Releases the slot or queue place of an execution of ${aws_sfn_state_machine.this.name} that ends FAILED, ABORTED or TIMED_OUT."
  event_pattern = jsonencode({
    source        = ["aws.states"]
    "detail-type" = ["Step Functions Execution Status Change"]
    detail = {
      status          = ["FAILED", "ABORTED", "TIMED_OUT"]
      stateMachineArn = local.guarded_state_machine_arns
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "queue_reaper" {
  count = local.queue ? 1 : 0

  rule      = aws_cloudwatch_event_rule.queue_reaper[0].name
  target_id = "queue-release"
  arn       = module.queue[0].release_function_arn

  # The release event of an ended execution: it gives back the execution's own slot and every slot its Map
  # iterations hold (their registry). A dynamic lock name is null here and read from each holder's item.
  input_transformer {
    input_paths = {
      executionArn = "$.detail.executionArn"
    }
    input_template = "{\"lockName\": ${local.dynamic_lock_name ? "null" : jsonencode(local.lock_name)}, \"executionArn\": \"<executionArn>\", \"ended\": true}"
  }
}

resource "aws_lambda_permission" "queue_reaper" {
  count = local.queue ? 1 : 0

  statement_id  = "ReleaseEndedExecutions"
  action        = "lambda:InvokeFunction"
  function_name = module.queue[0].release_function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.queue_reaper[0].arn
}
