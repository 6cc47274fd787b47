output "state_machine_arn" {
  description = "ARN of the semaphore state machine."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_name" {
  description = "Name of the semaphore state machine."
  value       = aws_sfn_state_machine.this.name
}

output "state_machine_definition" {
  description = "The rendered Amazon States Language definition of the state machine."
  value       = local.definition
}

output "role_arn" {
  description = "ARN of the state machine's IAM role (created or given)."
  value       = local.role_arn
}

output "lock_table_name" {
  description = "Name of the DynamoDB lock table."
  value       = local.lock_table_name
}

output "lock_table_arn" {
  description = "ARN of the DynamoDB lock table."
  value       = local.lock_table_arn
}

output "lock_id_attribute" {
  description = "Name of the lock table's partition key attribute."
  value       = var.lock_id_attribute
}

output "lock_name" {
  description = "The static lock name, or the JSONPath into the execution input that names the lock when lock_name_path is set."
  value       = var.lock_name_path != null ? var.lock_name_path : local.lock_name
}

output "acquire_state" {
  description = "JSON of the state that acquires the semaphore (ResultPath null: a Parallel in poll mode, a Task in queue mode), without Next: merge in your own transition and embed it in a definition of your own."
  value       = local.fragments[""].acquire_state
}

output "release_state" {
  description = "JSON of the state that releases the semaphore (idempotent, ResultPath null), without Next or End: merge in your own transition. For your success path; use release_after_failure_state on the failure path (its inner state names differ)."
  value       = local.fragments[""].release_state
}

output "release_after_failure_state" {
  description = "JSON of the same release as release_state, with distinct inner state names, for the failure path of a definition that also embeds release_state (AWS refuses a state name used twice in one machine)."
  value       = local.fragments[""].release_after_failure_state
}

output "map_state" {
  description = "JSON of a Map state whose every iteration holds a slot of its own around map_work_definition (null without it): embed it in a definition of your own and merge in ItemsPath, MaxConcurrency, ResultPath and your transition. Its output is the list of the work's outputs. Its inner state names end in \" (item)\"; list the machine in guarded_state_machine_arns so its holders are reaped and swept."
  value       = local.map_state
}

output "fragments" {
  description = "The embeddable states by name suffix: \"\" (the plain outputs) and every suffix of fragment_name_suffixes, each { acquire_state, release_state, release_after_failure_state } whose nested state names end in the suffix, to embed the semaphore more than once in one state machine."
  value       = local.fragments
}

output "acquirer_function_name" {
  description = "Name of the acquirer Lambda (only with warmup_tps_limit in poll mode), or null."
  value       = try(module.acquirer[0].function_name, null)
}

output "queue_acquire_function_name" {
  description = "Name of the queue acquire Lambda (only with acquire_mode = \"queue\"), or null."
  value       = try(module.queue[0].acquire_function_name, null)
}

output "queue_release_function_name" {
  description = "Name of the queue release Lambda (only with acquire_mode = \"queue\"), or null. The status-change rule (queue mode's reaper) invokes it for executions that end holding a slot or waiting."
  value       = try(module.queue[0].release_function_name, null)
}

output "queue_release_function_arn" {
  description = "ARN of the queue release Lambda (only with acquire_mode = \"queue\"), or null."
  value       = try(module.queue[0].release_function_arn, null)
}

output "reaper_state_machine_arn" {
  description = "ARN of the reaper this semaphore's status-change rule starts (created or attached), or null without one."
  value       = local.reaper_connected ? local.reaper_state_machine_arn : null
}

output "reaper_events_role_arn" {
  description = "ARN of the role EventBridge uses to start the reaper (created or given), or null without a reaper. Pass it with reaper_state_machine_arn to attach other semaphores to this reaper."
  value       = local.reaper_connected ? local.reaper_events_role_arn : null
}

output "sweeper_function_name" {
  description = "Name of the sweeper Lambda, or null when sweep_interval_minutes is null."
  value       = try(module.sweeper[0].function_name, null)
}

output "metrics" {
  description = "Where the module's Lambda functions report their counts: the CloudWatch namespace and the dimensions of every metric (for alarms and dashboards), or null when metrics_namespace is null."
  value       = var.metrics_namespace == null ? null : { namespace = var.metrics_namespace, dimensions = { Semaphore = var.name } }
}
