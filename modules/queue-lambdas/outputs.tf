output "acquire_function_arn" {
  description = "ARN of the queue acquire function (the FunctionName of the acquire state's lambda:invoke.waitForTaskToken task)."
  value       = aws_lambda_function.this["acquire"].arn
}

output "acquire_function_name" {
  description = "Name of the queue acquire function."
  value       = aws_lambda_function.this["acquire"].function_name
}

output "release_function_arn" {
  description = "ARN of the queue release function (the FunctionName of the release state's lambda:invoke task, and the reaper's target)."
  value       = aws_lambda_function.this["release"].arn
}

output "release_function_name" {
  description = "Name of the queue release function."
  value       = aws_lambda_function.this["release"].function_name
}

output "role_arn" {
  description = "ARN of the functions' IAM execution role."
  value       = aws_iam_role.this.arn
}

output "log_group_names" {
  description = "Names of the functions' CloudWatch log groups, by function (acquire, release)."
  value       = { for key, group in aws_cloudwatch_log_group.this : key => group.name }
}
