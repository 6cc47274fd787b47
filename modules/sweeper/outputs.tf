output "function_name" {
  description = "Name of the sweeper Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the sweeper Lambda function."
  value       = aws_lambda_function.this.arn
}

output "role_name" {
  description = "Name of the function's IAM execution role."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the function's IAM execution role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Name of the function's CloudWatch log group: one JSON line per run with its counts."
  value       = aws_cloudwatch_log_group.this.name
}

output "schedule_rule_arn" {
  description = "ARN of the EventBridge rule that runs the sweeper."
  value       = aws_cloudwatch_event_rule.this.arn
}
