################################################################################
# Slot recovery, event-driven: the reaper
#
# When an execution of this semaphore ends FAILED, ABORTED or TIMED_OUT, EventBridge starts the reaper
# (modules/reaper) with the execution's ARN and this semaphore's lock table, key attribute, lock name and
# weight. The reaper gives back the slot if the execution still holds it. Status-change events are sent for
# Standard workflows only, and best effort: the sweeper (sweeper.tf) is the safety net.
################################################################################

locals {
  # Every state machine whose executions hold this semaphore's slots: the module's own and the users' machines
  # that embed its states. The status-change rules, the sweeper and the queue functions look after all of them.
  guarded_state_machine_arns = distinct(concat([aws_sfn_state_machine.this.arn], var.guarded_state_machine_arns))

  # In queue mode the queue release Lambda is the reaper (queue.tf): it also drops waiters and hands slots on.
  reaper_events    = var.state_machine_type == "STANDARD" && !local.queue
  create_reaper    = var.create_reaper && local.reaper_events
  attach_reaper    = !var.create_reaper && var.reaper_state_machine_arn != null && local.reaper_events
  reaper_connected = local.create_reaper || local.attach_reaper

  reaper_state_machine_arn = local.create_reaper ? module.reaper[0].state_machine_arn : var.reaper_state_machine_arn
  reaper_events_role_arn   = local.create_reaper ? module.reaper[0].events_role_arn : var.reaper_events_role_arn

  # Fail the plan with these messages (Terraform 1.0 validation cannot compare two variables).
  check_reaper_choice = var.create_reaper && (var.reaper_state_machine_arn != null || var.reaper_events_role_arn != null) ? tobool("reaper_state_machine_arn and reaper_events_role_arn attach an existing reaper: set create_reaper = false to use them.") : true
  check_reaper_pair   = !var.create_reaper && ((var.reaper_state_machine_arn == null) != (var.reaper_events_role_arn == null)) ? tobool("An existing reaper needs both reaper_state_machine_arn and reaper_events_role_arn (the role EventBridge uses to start it).") : true

  # The reaper's input. Placeholders stay inside quotes (an execution ARN and a status are plain text);
  # jsonencode writes '<' in a lock name as \u003c, so a lock name can never be mistaken for a placeholder.
  reaper_input_template = join("", [
    "{",
    "\"executionArn\": \"<executionArn>\", ",
    "\"status\": \"<status>\", ",
    "\"table\": ${jsonencode(local.lock_table_name)}, ",
    "\"lockIdAttribute\": ${jsonencode(var.lock_id_attribute)}, ",
    "\"lockName\": ${local.dynamic_lock_name ? "null" : jsonencode(local.lock_name)}, ",
    "\"weightHint\": ${var.per_item_concurrency}",
    "}",
  ])
}

module "reaper" {
  source = "./modules/reaper"
  count  = local.create_reaper ? 1 : 0

  name                                   = "${var.name}-reaper"
  lock_table_arns                        = [local.lock_table_arn]
  lock_table_kms_key_arns                = var.lock_table_kms_key_arn != null ? [var.lock_table_kms_key_arn] : []
  logging_level                          = var.logging_level
  logging_include_execution_data         = var.logging_include_execution_data
  cloudwatch_log_group_retention_in_days = var.cloudwatch_log_group_retention_in_days
  cloudwatch_log_group_kms_key_arn       = var.cloudwatch_log_group_kms_key_arn
  tracing_enabled                        = var.tracing_enabled
  role_permissions_boundary              = var.role_permissions_boundary
  tags                                   = var.tags
}

resource "aws_cloudwatch_event_rule" "reaper" {
  count = local.reaper_connected ? 1 : 0

  name        = "${substr(var.name, 0, 57)}-reaper"
  description = "Starts the semaphore reaper when an execution of ${aws_sfn_state_machine.this.name} ends FAILED, ABORTED or TIMED_OUT."
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

resource "aws_cloudwatch_event_target" "reaper" {
  count = local.reaper_connected ? 1 : 0

  rule      = aws_cloudwatch_event_rule.reaper[0].name
  target_id = "reaper"
  arn       = local.reaper_state_machine_arn
  role_arn  = local.reaper_events_role_arn

  input_transformer {
    input_paths = {
      executionArn = "$.detail.executionArn"
      status       = "$.detail.status"
    }
    input_template = local.reaper_input_template
  }
}
