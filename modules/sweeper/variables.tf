################################################################################
# What to sweep
################################################################################

variable "lock_tables" {
  description = "Lock tables to sweep, each with its name, ARN and partition key attribute: the only tables the function may scan and write."
  type = list(object({
    name              = string
    arn               = string
    lock_id_attribute = string
  }))

  validation {
    condition = length(var.lock_tables) > 0 && alltrue([
      for table in var.lock_tables : can(regex("^[A-Za-z0-9_.-]{3,255}$", table.name)) && can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}$", table.arn)) && can(regex("^[A-Za-z0-9_.-]{1,255}$", table.lock_id_attribute))
    ])
    error_message = "Give at least one lock table, each {name, arn = arn:aws:dynamodb:REGION:ACCOUNT:table/NAME, lock_id_attribute}."
  }
}

variable "state_machine_arns" {
  description = "ARNs of the semaphore state machines whose holders this sweeper looks after: it may describe their executions only, and leaves holders of any other state machine alone."
  type        = list(string)

  validation {
    condition     = length(var.state_machine_arns) > 0 && alltrue([for arn in var.state_machine_arns : can(regex("^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}$", arn))])
    error_message = "Give at least one state machine ARN, each like arn:aws:states:REGION:ACCOUNT:stateMachine:NAME."
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

variable "schedule_interval_minutes" {
  description = "Minutes between two sweeps (an EventBridge rate schedule)."
  type        = number
  default     = 5

  validation {
    condition     = var.schedule_interval_minutes >= 1 && var.schedule_interval_minutes <= 1440 && floor(var.schedule_interval_minutes) == var.schedule_interval_minutes
    error_message = "The sweep interval must be a whole number of minutes from 1 to 1440."
  }
}

variable "lock_lease_seconds" {
  description = "Lease: a holder whose execution status cannot be read (throttled, denied, an Express execution) is released once it is older than this many seconds. Null never releases a holder on age alone."
  type        = number
  default     = null

  validation {
    condition     = var.lock_lease_seconds == null || (coalesce(var.lock_lease_seconds, 1) >= 1 && floor(coalesce(var.lock_lease_seconds, 1)) == coalesce(var.lock_lease_seconds, 1))
    error_message = "The lock lease must be a whole number of seconds of at least 1, or null."
  }
}

variable "queue_release_function_arn" {
  description = "Queue mode: ARN of the queue release function. When set, the sweeper releases through it (the freed slot goes to the next waiters, who are resumed) and removes queued executions that have ended; null releases with a plain conditional write (poll mode)."
  type        = string
  default     = null

  validation {
    condition     = var.queue_release_function_arn == null || can(regex("^arn:[a-z-]+:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}$", coalesce(var.queue_release_function_arn, "x")))
    error_message = "The queue release function must be a Lambda function ARN (arn:<partition>:lambda:<region>:<account>:function:<name>), or null."
  }
}

variable "max_items_per_run" {
  description = "Most items (lock items and index items) one run reads; a run also stops 5 s before its timeout. A run cut short is continued by the next one while the execution environment stays warm."
  type        = number
  default     = 10000

  validation {
    condition     = var.max_items_per_run >= 1 && floor(var.max_items_per_run) == var.max_items_per_run
    error_message = "The item budget must be a whole number of at least 1."
  }
}

################################################################################
# Function
################################################################################

variable "name" {
  description = "Name of the Lambda function (also of its log group /aws/lambda/<name>, its schedule rule and, by default, its IAM role)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "The function name must be 1 to 64 characters of letters, digits, '-' and '_'."
  }
}

variable "filename" {
  description = "Path of the deployment package. Null uses this repository's reproducible bundle, lambdas/dist/sweeper.zip (built by `make bundle`), found relative to this module: set it when the module directory is used without the repository around it."
  type        = string
  default     = null

  validation {
    condition     = var.filename == null || can(regex("\\.zip$", coalesce(var.filename, "x.zip")))
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
  description = "Memory of the function in MB (CPU scales with it)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "The memory size must be a whole number of MB from 128 to 10240."
  }
}

variable "timeout" {
  description = "Timeout of one run in seconds; the run stops scanning 5 s before it. One DescribeExecution per holder takes tens of milliseconds, so 120 s covers thousands of holders."
  type        = number
  default     = 120

  validation {
    condition     = var.timeout >= 10 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "The timeout must be a whole number of seconds from 10 to 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrent executions reserved for the function: -1 leaves it unreserved. Overlapping runs are safe (every release is conditional), so there is no need to cap it at 1."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrent_executions >= -1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "The reserved concurrent executions must be -1 (unreserved), 0 or a positive whole number."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer-managed KMS key that encrypts the function's environment variables. Null uses the AWS-managed key for Lambda."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.kms_key_arn, "x")))
    error_message = "The KMS key must be a KMS key ARN (arn:aws:kms:...), or null."
  }
}

variable "dead_letter_target_arn" {
  description = "ARN of an SQS queue or SNS topic that receives failed runs (the schedule invokes the function asynchronously). Null for none: the next run sweeps again anyway."
  type        = string
  default     = null

  validation {
    condition     = var.dead_letter_target_arn == null || can(regex("^arn:aws[a-z-]*:(sqs|sns):", coalesce(var.dead_letter_target_arn, "x")))
    error_message = "The dead-letter target must be an SQS queue or SNS topic ARN, or null."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: \"PassThrough\" (Lambda's default) or \"Active\" (the role may then send traces)."
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
  description = "Name of the function's IAM role. Null uses the function name."
  type        = string
  default     = null

  validation {
    condition     = var.role_name == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", coalesce(var.role_name, "x")))
    error_message = "The role name must be 1 to 64 characters of letters, digits and '+=,.@_-'."
  }
}

variable "role_permissions_boundary" {
  description = "ARN of a policy used as the permissions boundary of the function's role, or null."
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

variable "metrics_namespace" {
  description = "CloudWatch namespace for the function's counts, printed as Embedded Metric Format log lines (no API call, no permission; each metric is a billed custom metric), or null for none."
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
    condition     = var.cloudwatch_log_group_kms_key_id == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.cloudwatch_log_group_kms_key_id, "x")))
    error_message = "The log group KMS key must be a KMS key ARN (arn:aws:kms:...), or null."
  }
}

################################################################################
# General
################################################################################

variable "tags" {
  description = "Tags for the function, its role, its log group and its schedule rule."
  type        = map(string)
  default     = {}
}
