output "state_machine_arn" {
  description = "ARN of the semaphore state machine: start executions here."
  value       = module.sfn_semaphore.state_machine_arn
}

output "lock_table_name" {
  description = "Name of the DynamoDB lock table."
  value       = module.sfn_semaphore.lock_table_name
}

output "lock_name" {
  description = "Name of the lock item the executions contend for."
  value       = module.sfn_semaphore.lock_name
}

output "acquirer_function_name" {
  description = "Name of the acquirer Lambda that enforces the warm-up rate."
  value       = module.sfn_semaphore.acquirer_function_name
}
