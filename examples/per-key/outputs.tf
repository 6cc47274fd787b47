output "state_machine_arn" {
  description = "ARN of the semaphore state machine: start executions with {\"customerId\": \"...\"}."
  value       = module.sfn_semaphore.state_machine_arn
}

output "lock_table_name" {
  description = "Name of the DynamoDB lock table."
  value       = module.sfn_semaphore.lock_table_name
}

output "lock_name" {
  description = "The JSONPath that names each execution's lock."
  value       = module.sfn_semaphore.lock_name
}
