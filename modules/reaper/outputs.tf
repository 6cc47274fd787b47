output "state_machine_arn" {
  description = "ARN of the reaper state machine: the target of each semaphore's status-change rule."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_name" {
  description = "Name of the reaper state machine."
  value       = aws_sfn_state_machine.this.name
}

output "events_role_arn" {
  description = "ARN of the role EventBridge assumes to start the reaper (states:StartExecution on the reaper only): the role_arn of each semaphore's rule target."
  value       = aws_iam_role.events.arn
}

output "role_name" {
  description = "Name of the reaper state machine's IAM role."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the reaper state machine's IAM role."
  value       = aws_iam_role.this.arn
}

output "definition" {
  description = "The rendered Amazon States Language definition of the reaper."
  value       = local.definition
}
