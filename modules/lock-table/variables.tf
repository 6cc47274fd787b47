variable "name" {
  description = "Name of the DynamoDB lock table."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.name))
    error_message = "The lock table name must be 3 to 255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "lock_id_attribute" {
  description = "Name of the table's partition key attribute, which holds each lock's name."
  type        = string
  default     = "LockName"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,255}$", var.lock_id_attribute))
    error_message = "The lock id attribute must be 1 to 255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer-managed KMS key for encryption at rest. Null uses the AWS-managed key for DynamoDB."
  type        = string
  default     = null
}

variable "point_in_time_recovery_enabled" {
  description = "Whether point-in-time recovery is on for the table."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for the table."
  type        = map(string)
  default     = {}
}
