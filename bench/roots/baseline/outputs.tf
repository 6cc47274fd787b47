output "state_machine_arn" {
  description = "ARN of the state machine the benchmark starts executions of."
  value       = aws_sfn_state_machine.this.arn
}

output "lock_table_name" {
  description = "Name of the DynamoDB lock table."
  value       = aws_dynamodb_table.this.name
}

output "lock_name" {
  description = "Name of the lock item the executions contend for."
  value       = local.lock_name
}

output "function_names" {
  description = "The baseline has no Lambda functions: the same output as the other roots, empty."
  value       = []
}
