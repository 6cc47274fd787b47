locals {
  lock_table_name = coalesce(var.lock_table_name, "${var.name}-locks")
  lock_name       = coalesce(var.lock_name, var.name)

  # The lock's name comes from the holder's input when lock_name_path is set.
  dynamic_lock_name = var.lock_name_path != null

  # Who holds a slot (docs/lock-item.md). An execution, for the module's own machine and the plain fragments:
  # its ARN from the context object, and a dynamic lock name from the execution input, so acquire and release
  # agree whatever the work does to the state in between. A Map iteration, for map_state: the Map's
  # ItemSelector writes both into $.semaphore (the context object's Map fields are readable only there), and
  # the iteration's work runs on $.item, so nothing the work does can change them.
  holder_scopes = {
    execution = {
      holder_path      = "$$.Execution.Id"
      lock_name_source = "$$.Execution.Input${substr(coalesce(var.lock_name_path, "$"), 1, -1)}"
    }
    iteration = {
      holder_path      = "$.semaphore.holder"
      lock_name_source = "$.semaphore.lockName"
    }
  }

  # Everything the template needs that depends on the holder scope.
  scope_template_vars = { for scope, holder in local.holder_scopes : scope => {
    iteration   = scope == "iteration"
    holder_noun = scope
    holder_path = holder.holder_path
    # The lock item's key, and the lock's name as the queue Lambdas receive it.
    lock_key        = jsonencode({ (var.lock_id_attribute) = local.dynamic_lock_name ? tomap({ "S.$" = holder.lock_name_source }) : tomap({ S = local.lock_name }) })
    lock_name_field = local.dynamic_lock_name ? "\"lockName.$\": ${jsonencode(holder.lock_name_source)}" : "\"lockName\": ${jsonencode(local.lock_name)}"
    # Poll mode with dynamic names: the index item (keyed by the holder id) that tells the reaper which lock to
    # free. Queue mode's per-holder item serves the same purpose and is written by the queue Lambda.
    index_key  = jsonencode({ (var.lock_id_attribute) = { "S.$" = holder.holder_path } })
    index_item = local.dynamic_lock_name && !local.queue ? jsonencode({ (var.lock_id_attribute) = { "S.$" = holder.holder_path }, lockName = { "S.$" = holder.lock_name_source } }) : null
    # Poll mode's iterations: the registry of the execution's iteration holders, keyed by its ARN + "#". Queue
    # mode's Lambdas keep it themselves.
    registry_key = scope == "iteration" && !local.queue ? jsonencode({ (var.lock_id_attribute) = { "S.$" = "States.Format('{}#', $$.Execution.Id)" } }) : null
    # The work's output leaves an iteration through the success path's release; an execution's work output
    # replaces the state already.
    release_states = [
      {
        name        = "Release semaphore"
        suffix      = ""
        comment     = "Gives the slot back after the work succeeded; the work's output passes through unchanged."
        fails       = false
        output_path = scope == "iteration" ? "$.work.output" : null
      },
      {
        name        = "Release semaphore after failure"
        suffix      = " after failure"
        comment     = "Gives the slot back after the work failed, before the ${scope} fails with the work's error."
        fails       = true
        output_path = null
      },
    ]
  } }

  # Fails the plan with this message (Terraform 1.0 validation cannot compare two variables).
  check_weight = var.per_item_concurrency <= var.concurrency_limit ? true : tobool("per_item_concurrency (${var.per_item_concurrency}) must be at most concurrency_limit (${var.concurrency_limit}): a heavier execution could never be admitted.")

  # DynamoDB errors worth retrying in place. A failed condition (full semaphore) is deliberately absent.
  transient_dynamodb_errors = [
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.ThrottlingException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.InternalServerError",
    "DynamoDB.InternalServerErrorException",
    "DynamoDB.TransactionConflictException",
  ]

  # Lambda service errors worth retrying in place (the acquirer's own outcomes are caught by name instead).
  # AWS's recommended Lambda retrier names the first four.
  transient_lambda_errors = [
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
  ]

  warmup = var.warmup_tps_limit != null

  # The acquirer Lambda enforces the warm-up rate in poll mode; in queue mode the queue Lambdas do (queue.tf).
  use_acquirer = local.warmup && !local.queue

  # The Lambda functions trace like the state machine (Active sends their segments to X-Ray).
  lambda_tracing_mode = var.tracing_enabled ? "Active" : "PassThrough"

  # Everything the template needs but the holder scope, the work and the name suffix.
  template_vars = {
    comment                 = "Semaphore ${var.name}: at most ${var.concurrency_limit} concurrent (weight ${var.per_item_concurrency} each) on lock ${var.lock_name_path != null ? "named by ${var.lock_name_path}" : local.lock_name}. Generated by the sfn-semaphore module."
    timeout_seconds         = var.state_machine_timeout_seconds
    table_name              = local.lock_table_name
    dynamic_lock_name       = local.dynamic_lock_name
    item_lock_name_source   = "$$.Map.Item.Value${substr(coalesce(var.lock_name_path, "$"), 1, -1)}"
    map_item_selector       = var.map_item_selector
    acquire_function_arn    = local.use_acquirer ? module.acquirer[0].function_arn : null
    limit                   = var.concurrency_limit
    tps_limit               = local.warmup ? var.warmup_tps_limit : "null"
    transient_lambda_errors = local.transient_lambda_errors
    weight                  = var.per_item_concurrency
    max_count_before_grant  = var.concurrency_limit - var.per_item_concurrency
    wait_seconds            = var.acquire_wait_seconds
    # Poll mode draws each wait from acquire_wait_seconds +/- this (none at 1 s). With the acquirer Lambda the
    # acquire retries in place instead, after 0 to 2 x acquire_wait_seconds (the retrier's full jitter).
    wait_jitter_seconds = floor(var.acquire_wait_seconds / 2)
    transient_errors    = local.transient_dynamodb_errors
    # Queue mode (queue.tf): the per-holder item replaces the index item, the queue Lambdas the updates.
    queue                      = local.queue
    queue_acquire_function_arn = local.queue ? module.queue[0].acquire_function_arn : null
    queue_release_function_arn = local.queue ? module.queue[0].release_function_arn : null
    queue_recheck_seconds      = var.queue_recheck_seconds
    queue_rate_retry_seconds   = local.queue_rate_retry_seconds
    queue_retry_errors         = local.queue_retry_errors
    max_queue_length           = var.max_queue_length
  }

  definition = templatefile("${path.module}/templates/semaphore.asl.json.tftpl", merge(local.template_vars, local.scope_template_vars.execution, {
    suffix = ""
    work   = jsonencode(local.work)
  }))

  # Parsing here makes a template mistake fail the plan, and gives the embeddable fragments below.
  states = jsondecode(local.definition).States

  # The module's own acquire and release states without their transitions, for a definition of your own: the
  # success path's release and the failure path's have distinct inner state names, so both can be embedded.
  fragment_states = merge(
    { "" = local.states },
    { for suffix in var.fragment_name_suffixes : suffix => jsondecode(templatefile("${path.module}/templates/semaphore.asl.json.tftpl", merge(local.template_vars, local.scope_template_vars.execution, {
      suffix = suffix
      work   = jsonencode({ StartAt = "Work${suffix}", States = { "Work${suffix}" = { Type = "Pass", End = true } } })
    }))).States },
  )

  # map_state: the same template with a Map iteration as the holder, around map_work_definition. Its states
  # end in " (item)", so it embeds beside the plain fragments. One copy only: a second copy in one machine
  # would repeat the work's own state names, which the module cannot rename.
  map_work = var.map_work_definition != null ? jsondecode(var.map_work_definition) : null
  map_machines = { for suffix in(local.map_work == null ? [] : [""]) : suffix => jsondecode(templatefile("${path.module}/templates/semaphore.asl.json.tftpl", merge(local.template_vars, local.scope_template_vars.iteration, {
    suffix = " (item)${suffix}"
    work   = jsonencode(local.map_work)
  }))) }

  fragments = { for suffix, states in local.fragment_states : suffix => {
    acquire_state               = jsonencode({ for k, v in states["Acquire semaphore${suffix}"] : k => v if k != "Next" })
    release_state               = jsonencode({ for k, v in states["Release semaphore${suffix}"] : k => v if !contains(["Next", "End"], k) })
    release_after_failure_state = jsonencode({ for k, v in states["Release semaphore after failure${suffix}"] : k => v if !contains(["Next", "End"], k) })
  } }
  map_state = local.map_work == null ? null : jsonencode({ for k, v in local.map_machines[""].States["Semaphore map"] : k => v if k != "End" })
}

################################################################################
# State names: AWS refuses a definition that uses one name twice anywhere in the machine (branches and Map
# iterations included), so a work_definition that reuses one of the module's names fails the plan here,
# naming it, instead of at CreateStateMachine. Terraform has no recursion: the names are gathered level by
# level, as deep as any realistic definition nests (Parallel and Map states, eight levels).
################################################################################

locals {
  work = jsondecode(var.work_definition)

  # Each level: the state maps nested in the states of the level above (Parallel branches, a Map's Iterator or
  # ItemProcessor), each tagged with the variable whose machine it belongs to. map_state's machine is
  # checked on its own: it is embedded in a machine of the user's, not in the module's.
  state_maps_1 = concat(
    [{ variable = "work_definition", machine = "", states = local.states }],
    [for suffix, m in local.map_machines : { variable = "map_work_definition", machine = suffix, states = m.States }],
  )
  state_maps_2 = flatten([for m in local.state_maps_1 : [for s in values(m.states) : [for x in concat([for b in try(s.Branches, []) : b.States], try([s.Iterator.States], []), try([s.ItemProcessor.States], [])) : { variable = m.variable, machine = m.machine, states = x }]]])
  state_maps_3 = flatten([for m in local.state_maps_2 : [for s in values(m.states) : [for x in concat([for b in try(s.Branches, []) : b.States], try([s.Iterator.States], []), try([s.ItemProcessor.States], [])) : { variable = m.variable, machine = m.machine, states = x }]]])
  state_maps_4 = flatten([for m in local.state_maps_3 : [for s in values(m.states) : [for x in concat([for b in try(s.Branches, []) : b.States], try([s.Iterator.States], []), try([s.ItemProcessor.States], [])) : { variable = m.variable, machine = m.machine, states = x }]]])
  state_maps_5 = flatten([for m in local.state_maps_4 : [for s in values(m.states) : [for x in concat([for b in try(s.Branches, []) : b.States], try([s.Iterator.States], []), try([s.ItemProcessor.States], [])) : { variable = m.variable, machine = m.machine, states = x }]]])
  state_maps_6 = flatten([for m in local.state_maps_5 : [for s in values(m.states) : [for x in concat([for b in try(s.Branches, []) : b.States], try([s.Iterator.States], []), try([s.ItemProcessor.States], [])) : { variable = m.variable, machine = m.machine, states = x }]]])
  state_maps_7 = flatten([for m in local.state_maps_6 : [for s in values(m.states) : [for x in concat([for b in try(s.Branches, []) : b.States], try([s.Iterator.States], []), try([s.ItemProcessor.States], [])) : { variable = m.variable, machine = m.machine, states = x }]]])
  state_maps_8 = flatten([for m in local.state_maps_7 : [for s in values(m.states) : [for x in concat([for b in try(s.Branches, []) : b.States], try([s.Iterator.States], []), try([s.ItemProcessor.States], [])) : { variable = m.variable, machine = m.machine, states = x }]]])

  # One entry per state: "<variable>\t<machine>\t<state name>"; a name repeats only within one machine.
  state_names          = flatten([for m in concat(local.state_maps_1, local.state_maps_2, local.state_maps_3, local.state_maps_4, local.state_maps_5, local.state_maps_6, local.state_maps_7, local.state_maps_8) : [for n in keys(m.states) : "${m.variable}\t${m.machine}\t${n}"]])
  repeated_state_names = sort([for n in distinct(local.state_names) : n if length([for x in local.state_names : x if x == n]) > 1])
  repeated_in          = distinct([for n in local.repeated_state_names : split("\t", n)[0]])

  check_state_names = length(local.repeated_state_names) == 0 ? true : tobool("${join(" and ", local.repeated_in)} uses the state name(s) ${join(", ", distinct(formatlist("\"%s\"", [for n in local.repeated_state_names : split("\t", n)[2]])))} more than once in the state machine (the module's own states included). State names must be unique across the whole machine, inside Parallel branches and Map iterations too, or AWS refuses the definition: rename them in ${join(" and ", local.repeated_in)}.")
}

################################################################################
# Lock table
################################################################################

module "lock_table" {
  source = "./modules/lock-table"
  count  = var.create_lock_table ? 1 : 0

  name                           = local.lock_table_name
  lock_id_attribute              = var.lock_id_attribute
  kms_key_arn                    = var.lock_table_kms_key_arn
  point_in_time_recovery_enabled = var.lock_table_point_in_time_recovery_enabled
  tags                           = var.tags
}

# An existing table's ARN is built from its name rather than read with a data source: a data source would be
# read at plan time, before a table created in the same apply (another semaphore's) exists.
data "aws_caller_identity" "current" {
  count = var.create_lock_table ? 0 : 1
}

data "aws_region" "current" {}

locals {
  lock_table_arn = var.create_lock_table ? module.lock_table[0].arn : "arn:${data.aws_partition.current.partition}:dynamodb:${data.aws_region.current.name}:${data.aws_caller_identity.current[0].account_id}:table/${local.lock_table_name}"
}

################################################################################
# Warm-up: the acquirer Lambda
################################################################################

module "acquirer" {
  source = "./modules/acquirer-lambda"
  count  = local.use_acquirer ? 1 : 0

  name                                   = "${var.name}-acquire"
  filename                               = "${path.module}/lambdas/dist/acquire_lock.zip"
  lock_table_name                        = local.lock_table_name
  lock_table_arn                         = local.lock_table_arn
  lock_id_attribute                      = var.lock_id_attribute
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
# State machine
################################################################################

resource "aws_sfn_state_machine" "this" {
  #checkov:skip=CKV_AWS_285:Execution inputs/outputs can hold users' data, so logs include them only when logging_include_execution_data is set
  name       = coalesce(var.state_machine_name, var.name)
  role_arn   = local.role_arn
  type       = var.state_machine_type
  definition = local.definition

  dynamic "logging_configuration" {
    for_each = var.logging_level != "OFF" ? [1] : []

    content {
      level                  = var.logging_level
      include_execution_data = var.logging_include_execution_data
      log_destination        = "${local.log_group_arn}:*"
    }
  }

  tracing_configuration {
    enabled = var.tracing_enabled
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.this]
}

resource "aws_cloudwatch_log_group" "this" {
  count = var.logging_level != "OFF" && var.create_cloudwatch_log_group ? 1 : 0

  name              = "/aws/vendedlogs/states/${coalesce(var.state_machine_name, var.name)}"
  retention_in_days = var.cloudwatch_log_group_retention_in_days
  kms_key_id        = var.cloudwatch_log_group_kms_key_arn
  tags              = var.tags
}

locals {
  log_group_arn = var.create_cloudwatch_log_group ? try(aws_cloudwatch_log_group.this[0].arn, null) : var.cloudwatch_log_group_arn
}
