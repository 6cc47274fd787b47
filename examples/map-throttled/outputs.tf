output "state_machine_arn" {
  description = "ARN of the downloader: start executions with {\"paths\": [\"a.jpg\", \"b.jpg\", ...]}."
  value       = aws_sfn_state_machine.downloader.arn
}

output "lock_table_name" {
  description = "Name of the DynamoDB lock table."
  value       = module.sfn_semaphore.lock_table_name
}

output "lock_name" {
  description = "The lock every iteration holds a slot of."
  value       = module.sfn_semaphore.lock_name
}

output "reaper_state_machine_arn" {
  description = "ARN of the reaper (poll mode), which gives back the slots of a downloader execution that ends without releasing them."
  value       = module.sfn_semaphore.reaper_state_machine_arn
}

output "sweeper_function_name" {
  description = "Name of the sweeper Lambda."
  value       = module.sfn_semaphore.sweeper_function_name
}

output "queue_release_function_name" {
  description = "Name of the queue release Lambda (queue mode), or null."
  value       = module.sfn_semaphore.queue_release_function_name
}
