output "lock_table_name" {
  description = "Name of the lock table both semaphores use."
  value       = module.database.lock_table_name
}

output "database_state_machine_arn" {
  description = "ARN of the database semaphore's state machine."
  value       = module.database.state_machine_arn
}

output "database_lock_name" {
  description = "Lock name of the database semaphore."
  value       = module.database.lock_name
}

output "partner_api_state_machine_arn" {
  description = "ARN of the partner API semaphore's state machine."
  value       = module.partner_api.state_machine_arn
}

output "partner_api_lock_name" {
  description = "Lock name of the partner API semaphore."
  value       = module.partner_api.lock_name
}
