################################################################################
# Function
################################################################################

variable "name" {
  description = "Name of the Lambda function (also of its log group, /aws/lambda/<name>, and by default of its IAM role)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "The function name must be 1 to 64 characters of letters, digits, '-' and '_'."
  }
}

variable "filename" {
  description = "Path of the deployment package. Null uses this repository's reproducible bundle, lambdas/dist/acquire_lock.zip (built by `make bundle`), found relative to this module: set it when the module directory is used without the repository around it (e.g. sourced by an absolute local path, which Terraform copies alone)."
  type        = string
  default     = null

  validation {
    condition     = var.filename == null || can(regex("\\.zip$", var.filename))
    error_message = "The deployment package must be a .zip file, or null for the bundled one."
  }
}

variable "runtime" {
  description = "Python runtime of the function. The code is written for python3.8 to python3.14 (linted for 3.8, tested on 3.11); AWS no longer creates python3.8 functions, but the aws provider 3.x only knows runtimes up to python3.8."
  type        = string
  default     = "python3.12"

  validation {
    condition     = can(regex("^python3\\.(8|9|10|11|12|13|14)$", var.runtime))
    error_message = "The runtime must be one of python3.8, python3.9, python3.10, python3.11, python3.12, python3.13 or python3.14."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB (CPU scales with it). A grant is one small DynamoDB call: 256 keeps cold starts short."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && var.memory_size % 1 == 0
    error_message = "The memory size must be a whole number of MB from 128 to 10240."
  }
}

variable "timeout" {
  description = "Timeout of one invocation in seconds. A grant takes milliseconds; the client retries throttling a few times within this budget."
  type        = number
  default     = 10

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && var.timeout % 1 == 0
    error_message = "The timeout must be a whole number of seconds from 1 to 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrent executions reserved for the function: -1 leaves it unreserved, 0 disables it, a positive number caps it (and the acquire attempts hitting DynamoDB at once)."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrent_executions >= -1 && var.reserved_concurrent_executions % 1 == 0
    error_message = "The reserved concurrent executions must be -1 (unreserved), 0 or a positive whole number."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer-managed KMS key that encrypts the function's environment variables. Null uses the AWS-managed key for Lambda."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "The KMS key must be a KMS key ARN (arn:aws:kms:...), or null."
  }
}

variable "dead_letter_target_arn" {
  description = "ARN of an SQS queue or SNS topic that receives failed asynchronous invocations. Null for none (a state machine invokes the function synchronously and handles failures itself)."
  type        = string
  default     = null

  validation {
    condition     = var.dead_letter_target_arn == null || can(regex("^arn:aws[a-z-]*:(sqs|sns):", var.dead_letter_target_arn))
    error_message = "The dead-letter target must be an SQS queue or SNS topic ARN, or null."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: \"PassThrough\" (Lambda's default: trace only when the caller's request is sampled) or \"Active\" (the role may then send traces)."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "The tracing mode must be \"PassThrough\" or \"Active\"."
  }
}

################################################################################
# Lock table
################################################################################

variable "lock_table_name" {
  description = "Name of the DynamoDB lock table (passed to the function as LOCK_TABLE_NAME)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.lock_table_name))
    error_message = "The lock table name must be 3 to 255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "lock_table_arn" {
  description = "ARN of the lock table: the only resource the function may read and write."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}$", var.lock_table_arn))
    error_message = "The lock table ARN must look like arn:aws:dynamodb:REGION:ACCOUNT:table/NAME."
  }
}

variable "lock_id_attribute" {
  description = "Name of the lock table's partition key attribute, which holds each lock's name (passed as LOCK_ID_ATTRIBUTE)."
  type        = string
  default     = "LockName"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,255}$", var.lock_id_attribute))
    error_message = "The lock id attribute must be 1 to 255 characters of letters, digits, '_', '-' and '.'."
  }
}

################################################################################
# IAM role
################################################################################

variable "role_name" {
  description = "Name of the function's IAM role. Null uses the function name."
  type        = string
  default     = null

  validation {
    condition     = var.role_name == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.role_name))
    error_message = "The role name must be 1 to 64 characters of letters, digits and '+=,.@_-'."
  }
}

variable "role_permissions_boundary" {
  description = "ARN of a policy used as the permissions boundary of the function's role, or null."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::", var.role_permissions_boundary))
    error_message = "The permissions boundary must be an IAM policy ARN (arn:aws:iam::...), or null."
  }
}

################################################################################
# Logs
################################################################################

variable "cloudwatch_log_group_retention_in_days" {
  description = "Days to keep the function's logs (0 keeps them forever)."
  type        = number
  default     = 365

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.cloudwatch_log_group_retention_in_days)
    error_message = "The log retention must be one of 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 days."
  }
}

variable "cloudwatch_log_group_kms_key_id" {
  description = "ARN of a KMS key that encrypts the function's log group (its key policy must allow CloudWatch Logs), or null."
  type        = string
  default     = null

  validation {
    condition     = var.cloudwatch_log_group_kms_key_id == null || can(regex("^arn:aws[a-z-]*:kms:", var.cloudwatch_log_group_kms_key_id))
    error_message = "The log group KMS key must be a KMS key ARN (arn:aws:kms:...), or null."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace for the function's counts, printed as one Embedded Metric Format log line per call (no API call, no permission; each metric is a billed custom metric), or null for none."
  type        = string
  default     = null

  validation {
    condition     = var.metrics_namespace == null || (var.metrics_namespace != "" && can(regex("^[0-9A-Za-z._/#: -]{1,255}$", coalesce(var.metrics_namespace, "x"))) && can(regex("[^ ]", coalesce(var.metrics_namespace, "x"))) && substr(coalesce(var.metrics_namespace, "x"), 0, 4) != "AWS/")
    error_message = "The metrics namespace must be 1 to 255 characters of letters, digits, spaces and . - _ / # :, not all spaces and not starting with AWS/ (reserved for AWS), or null to report no metrics."
  }
}

variable "metrics_semaphore" {
  description = "Value of the metrics' one dimension, Semaphore; null uses name."
  type        = string
  default     = null
}

################################################################################
# General
################################################################################

variable "tags" {
  description = "Tags for the function, its role and its log group."
  type        = map(string)
  default     = {}
}
