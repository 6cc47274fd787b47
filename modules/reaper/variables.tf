################################################################################
# Reaper
################################################################################

variable "name" {
  description = "Name of the reaper state machine (and, by default, of its IAM role and, with \"-events\", of the role EventBridge uses to start it)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}$", var.name))
    error_message = "The name must be 1 to 80 characters of letters, digits, '-' and '_'."
  }
}

variable "lock_table_arns" {
  description = "ARNs of every lock table whose semaphores this reaper serves: the only tables its role may read and write. A semaphore attached to this reaper must use one of them."
  type        = list(string)

  validation {
    condition     = length(var.lock_table_arns) > 0 && alltrue([for arn in var.lock_table_arns : can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}$", arn))])
    error_message = "Give at least one lock table ARN, each like arn:aws:dynamodb:REGION:ACCOUNT:table/NAME."
  }
}

variable "lock_table_kms_key_arns" {
  description = "ARNs of the customer-managed KMS keys that encrypt those lock tables, if any: the role may use them through DynamoDB only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.lock_table_kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:", arn))])
    error_message = "Each lock table KMS key must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "tags" {
  description = "Tags for the state machine, its roles and its log group."
  type        = map(string)
  default     = {}
}

################################################################################
# Logging and tracing
################################################################################

variable "logging_level" {
  description = "Execution logging level of the reaper: OFF, ALL, ERROR or FATAL. Anything but OFF creates a log group (/aws/vendedlogs/states/<name>) and sends logs to it."
  type        = string
  default     = "OFF"

  validation {
    condition     = contains(["OFF", "ALL", "ERROR", "FATAL"], var.logging_level)
    error_message = "The logging level must be one of OFF, ALL, ERROR, FATAL."
  }
}

variable "logging_include_execution_data" {
  description = "Whether execution logs include inputs and outputs (execution ARNs and lock names of your semaphores)."
  type        = bool
  default     = false
}

variable "cloudwatch_log_group_retention_in_days" {
  description = "Retention of the reaper's execution log group, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653], var.cloudwatch_log_group_retention_in_days)
    error_message = "The log retention must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653 days."
  }
}

variable "cloudwatch_log_group_kms_key_arn" {
  description = "ARN of a customer-managed KMS key for the reaper's log group (its key policy must allow CloudWatch Logs). Null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null

  validation {
    condition     = var.cloudwatch_log_group_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.cloudwatch_log_group_kms_key_arn, "x")))
    error_message = "The log group KMS key must be a KMS key ARN (arn:aws:kms:...), or null."
  }
}

variable "tracing_enabled" {
  description = "Whether AWS X-Ray tracing is on for the reaper. Adds the four X-Ray write actions to its role."
  type        = bool
  default     = true
}

################################################################################
# IAM
################################################################################

variable "role_name" {
  description = "Name of the reaper state machine's IAM role. Null uses the name (its first 64 characters)."
  type        = string
  default     = null

  validation {
    condition     = var.role_name == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", coalesce(var.role_name, "x")))
    error_message = "The role name must be 1 to 64 characters of letters, digits and '+=,.@_-'."
  }
}

variable "events_role_name" {
  description = "Name of the IAM role EventBridge assumes to start the reaper. Null uses \"<name>-events\"."
  type        = string
  default     = null

  validation {
    condition     = var.events_role_name == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", coalesce(var.events_role_name, "x")))
    error_message = "The events role name must be 1 to 64 characters of letters, digits and '+=,.@_-'."
  }
}

variable "role_permissions_boundary" {
  description = "ARN of a permissions boundary for both roles, or null."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::", coalesce(var.role_permissions_boundary, "x")))
    error_message = "The permissions boundary must be an IAM policy ARN (arn:aws:iam::...), or null."
  }
}
