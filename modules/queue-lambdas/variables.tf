################################################################################
# Semaphore
################################################################################

variable "name" {
  description = "Prefix of the function names (<name>-queue-acquire, <name>-queue-release), of their log groups (/aws/lambda/<function>) and, by default, of the IAM role (<name>-queue). At most 50 characters, so every name stays within AWS's 64."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,50}$", var.name))
    error_message = "The name must be 1 to 50 characters of letters, digits, '-' and '_'."
  }
}

variable "state_machine_arns" {
  description = "ARNs of the state machines that use these functions (the semaphore's own, and any sharing its lock): the functions may describe their executions only, to tell a waiter that has ended from one that is merely unreachable."
  type        = list(string)

  validation {
    condition     = length(var.state_machine_arns) > 0 && alltrue([for arn in var.state_machine_arns : can(regex("^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}$", arn))])
    error_message = "Give at least one state machine ARN, each like arn:aws:states:REGION:ACCOUNT:stateMachine:NAME."
  }
}

variable "concurrency_limit" {
  description = "The semaphore's limit (sum of the holders' weights), which the release settles the queue with. The acquire receives it in its event."
  type        = number

  validation {
    condition     = var.concurrency_limit >= 1 && var.concurrency_limit <= 100000 && var.concurrency_limit % 1 == 0
    error_message = "The concurrency limit must be a whole number from 1 to 100000."
  }
}

variable "warmup_tps_limit" {
  description = "The semaphore's warm-up rate (grants per second per lock) the release settles with, or null for none."
  type        = number
  default     = null

  validation {
    condition     = var.warmup_tps_limit == null || (coalesce(var.warmup_tps_limit, 1) > 0 && coalesce(var.warmup_tps_limit, 1) <= 1000)
    error_message = "The warm-up TPS limit must be a number greater than 0 and at most 1000, or null."
  }
}

################################################################################
# Lock table
################################################################################

variable "lock_table_name" {
  description = "Name of the DynamoDB lock table (passed to the functions as LOCK_TABLE_NAME)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.lock_table_name))
    error_message = "The lock table name must be 3 to 255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "lock_table_arn" {
  description = "ARN of the lock table: the only table the functions may read and write."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}$", var.lock_table_arn))
    error_message = "The lock table ARN must look like arn:aws:dynamodb:REGION:ACCOUNT:table/NAME."
  }
}

variable "lock_id_attribute" {
  description = "Name of the lock table's partition key attribute (passed as LOCK_ID_ATTRIBUTE)."
  type        = string
  default     = "LockName"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,255}$", var.lock_id_attribute))
    error_message = "The lock id attribute must be 1 to 255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "lock_table_kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the lock table, if any: the role may use it through DynamoDB only."
  type        = string
  default     = null

  validation {
    condition     = var.lock_table_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.lock_table_kms_key_arn, "x")))
    error_message = "The lock table KMS key must be a KMS key ARN (arn:aws:kms:...), or null."
  }
}

################################################################################
# Functions
################################################################################

variable "acquire_filename" {
  description = "Path of the acquire function's package. Null uses this repository's reproducible bundle, lambdas/dist/queue_acquire.zip (`make bundle`), found relative to this module: set it when the module directory is used without the repository around it."
  type        = string
  default     = null

  validation {
    condition     = var.acquire_filename == null || can(regex("\\.zip$", coalesce(var.acquire_filename, "x.zip")))
    error_message = "The package must be a .zip file, or null for the bundled one."
  }
}

variable "release_filename" {
  description = "Path of the release function's package. Null uses lambdas/dist/queue_release.zip from this repository."
  type        = string
  default     = null

  validation {
    condition     = var.release_filename == null || can(regex("\\.zip$", coalesce(var.release_filename, "x.zip")))
    error_message = "The package must be a .zip file, or null for the bundled one."
  }
}

variable "runtime" {
  description = "Python runtime of the functions. The code is written for python3.8 to python3.14 (linted for 3.8, tested on 3.11); AWS no longer creates python3.8 functions, but the aws provider 3.x only knows runtimes up to python3.8."
  type        = string
  default     = "python3.12"

  validation {
    condition     = can(regex("^python3\\.(8|9|10|11|12|13|14)$", var.runtime))
    error_message = "The runtime must be one of python3.8, python3.9, python3.10, python3.11, python3.12, python3.13 or python3.14."
  }
}

variable "memory_size" {
  description = "Memory of each function in MB (CPU scales with it). A call is a few small DynamoDB and Step Functions requests: 256 keeps cold starts short."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && var.memory_size % 1 == 0
    error_message = "The memory size must be a whole number of MB from 128 to 10240."
  }
}

variable "timeout" {
  description = "Timeout of one invocation in seconds. A call takes milliseconds; under a warm-up rate a call may sleep (a second or two at a time) until the rate allows the next grant, while this budget (less 2 s) lasts, before it hands the rest to the waiters' own re-checks."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 3 && var.timeout <= 900 && var.timeout % 1 == 0
    error_message = "The timeout must be a whole number of seconds from 3 to 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrent executions reserved for each function: -1 leaves them unreserved, a positive number caps them. 0 would disable them and stall every waiter."
  type        = number
  default     = -1

  validation {
    condition     = (var.reserved_concurrent_executions == -1 || var.reserved_concurrent_executions >= 1) && var.reserved_concurrent_executions % 1 == 0
    error_message = "The reserved concurrent executions must be -1 (unreserved) or a positive whole number."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer-managed KMS key that encrypts the functions' environment variables. Null uses the AWS-managed key for Lambda."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.kms_key_arn, "x")))
    error_message = "The KMS key must be a KMS key ARN (arn:aws:kms:...), or null."
  }
}

variable "dead_letter_target_arn" {
  description = "ARN of an SQS queue or SNS topic that receives failed asynchronous invocations (the reaper's calls of the release function). Null for none."
  type        = string
  default     = null

  validation {
    condition     = var.dead_letter_target_arn == null || can(regex("^arn:aws[a-z-]*:(sqs|sns):", coalesce(var.dead_letter_target_arn, "x")))
    error_message = "The dead-letter target must be an SQS queue or SNS topic ARN, or null."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode of the functions: \"PassThrough\" (Lambda's default) or \"Active\" (the role may then send traces)."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "The tracing mode must be \"PassThrough\" or \"Active\"."
  }
}

################################################################################
# IAM role
################################################################################

variable "role_name" {
  description = "Name of the functions' IAM role. Null uses <name>-queue."
  type        = string
  default     = null

  validation {
    condition     = var.role_name == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", coalesce(var.role_name, "x")))
    error_message = "The role name must be 1 to 64 characters of letters, digits and '+=,.@_-'."
  }
}

variable "role_permissions_boundary" {
  description = "ARN of a policy used as the permissions boundary of the functions' role, or null."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::", coalesce(var.role_permissions_boundary, "x")))
    error_message = "The permissions boundary must be an IAM policy ARN (arn:aws:iam::...), or null."
  }
}

################################################################################
# Logs
################################################################################

variable "cloudwatch_log_group_retention_in_days" {
  description = "Days to keep the functions' logs (0 keeps them forever)."
  type        = number
  default     = 365

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.cloudwatch_log_group_retention_in_days)
    error_message = "The log retention must be one of 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 days."
  }
}

variable "cloudwatch_log_group_kms_key_id" {
  description = "ARN of a KMS key that encrypts the functions' log groups (its key policy must allow CloudWatch Logs), or null."
  type        = string
  default     = null

  validation {
    condition     = var.cloudwatch_log_group_kms_key_id == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.cloudwatch_log_group_kms_key_id, "x")))
    error_message = "The log group KMS key must be a KMS key ARN (arn:aws:kms:...), or null."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace for the functions' counts, printed as Embedded Metric Format log lines (no API call, no permission; each metric is a billed custom metric), or null for none."
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
  description = "Tags for the functions, their role and their log groups."
  type        = map(string)
  default     = {}
}
