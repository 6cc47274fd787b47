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
