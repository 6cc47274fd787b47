output "name" {
  description = "Name of the lock table."
  value       = aws_dynamodb_table.this.name
}

output "arn" {
  description = "ARN of the lock table."
  value       = aws_dynamodb_table.this.arn
}

output "lock_id_attribute" {
  description = "Name of the table's partition key attribute."
  value       = aws_dynamodb_table.this.hash_key
}
