output "state_machine_arn" {
  description = "ARN of the semaphore state machine: start executions here."
  value       = module.sfn_semaphore.state_machine_arn
}

output "lock_table_name" {
  description = "Name of the DynamoDB lock table (encrypted with kms_key_arn)."
  value       = module.sfn_semaphore.lock_table_name
}

output "kms_key_arn" {
  description = "ARN of the customer-managed key that encrypts the lock table and the execution logs."
  value       = aws_kms_key.this.arn
}

output "log_group_name" {
  description = "Name of the execution log group (encrypted with kms_key_arn)."
  value       = local.log_group_name
}
