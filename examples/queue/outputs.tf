output "state_machine_arn" {
  description = "ARN of the semaphore state machine: start executions here."
  value       = module.sfn_semaphore.state_machine_arn
}

output "lock_table_name" {
  description = "Name of the DynamoDB lock table."
  value       = module.sfn_semaphore.lock_table_name
}

output "lock_name" {
  description = "Name of the lock item the executions queue on (or the JSONPath that names it)."
  value       = module.sfn_semaphore.lock_name
}

output "queue_acquire_function_name" {
  description = "Name of the Lambda that queues executions."
  value       = module.sfn_semaphore.queue_acquire_function_name
}

output "queue_release_function_name" {
  description = "Name of the Lambda that releases slots and resumes the next waiters."
  value       = module.sfn_semaphore.queue_release_function_name
}

output "metrics" {
  description = "The CloudWatch namespace and dimensions of the Lambdas' metrics, or null when metrics_namespace is null."
  value       = module.sfn_semaphore.metrics
}
