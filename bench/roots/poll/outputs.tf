output "state_machine_arn" {
  description = "ARN of the state machine the benchmark starts executions of."
  value       = module.semaphore.state_machine_arn
}

output "lock_table_name" {
  description = "Name of the DynamoDB lock table."
  value       = module.semaphore.lock_table_name
}

output "lock_name" {
  description = "Name of the lock item the executions contend for."
  value       = module.semaphore.lock_name
}

output "function_names" {
  description = "Names of the module's Lambda functions in this root (their usage counts in the mode's cost)."
  value = [
    for name in [
      module.semaphore.acquirer_function_name,
      module.semaphore.queue_acquire_function_name,
      module.semaphore.queue_release_function_name,
      module.semaphore.sweeper_function_name,
    ] : name if name != null
  ]
}
