output "state_machine_arn" {
  description = "ARN of the relay's state machine: start the first consumer of a stream with {\"streamId\": \"...\", \"generation\": 1, \"maxGenerations\": n}, named \"<streamId>-gen-1\"."
  value       = module.sfn_semaphore.state_machine_arn
}

output "lock_table_name" {
  description = "Name of the DynamoDB lock table (one lock item per stream id)."
  value       = module.sfn_semaphore.lock_table_name
}

output "lock_name" {
  description = "The JSONPath that names each execution's lock: the stream id."
  value       = module.sfn_semaphore.lock_name
}
