################################################################################
# General
################################################################################

variable "name" {
  description = "Name of the semaphore: used for the state machine, the IAM role and (by default) the lock table and the lock name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,50}$", var.name))
    error_message = "The name must be 1 to 50 characters of letters, digits, '-' and '_': it prefixes function and role names, which AWS limits to 64 characters, with suffixes of up to 14 (\"-queue-release\")."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}

################################################################################
# Lock table
################################################################################

variable "create_lock_table" {
  description = "Whether to create the DynamoDB lock table. Set false to use an existing table named lock_table_name (several semaphores can share one table)."
  type        = bool
  default     = true
}

variable "lock_table_name" {
  description = "Name of the lock table to create, or of the existing table when create_lock_table is false. Defaults to \"<name>-locks\"."
  type        = string
  default     = null

  validation {
    condition     = var.lock_table_name == null || can(regex("^[A-Za-z0-9_.-]{3,255}$", var.lock_table_name))
    error_message = "The lock table name must be 3 to 255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "lock_id_attribute" {
  description = "Name of the lock table's partition key attribute (string), which holds each lock's name. Must match the existing table's key when create_lock_table is false."
  type        = string
  default     = "LockName"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,255}$", var.lock_id_attribute))
    error_message = "The lock id attribute must be 1 to 255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "lock_table_kms_key_arn" {
  description = "ARN of a customer-managed KMS key to encrypt the lock table. Null uses the AWS-managed key (encryption at rest is always on). Also set it when an existing table (create_lock_table = false) is encrypted with your key: the role gets kms:Decrypt/Encrypt/GenerateDataKey on that key, through DynamoDB only."
  type        = string
  default     = null

  validation {
    condition     = var.lock_table_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.lock_table_kms_key_arn))
    error_message = "The lock table KMS key must be a KMS key ARN (arn:aws:kms:...), or null."
  }
}

variable "lock_table_point_in_time_recovery_enabled" {
  description = "Whether point-in-time recovery is on for the lock table the module creates."
  type        = bool
  default     = true
}

################################################################################
# Semaphore
################################################################################

variable "lock_name" {
  description = "Name of the lock (the lock item's key) when every execution shares one limit. Defaults to name. Ignored when lock_name_path is set."
  type        = string
  default     = null

  validation {
    condition     = var.lock_name == null || (can(regex("^[\\s\\S]{1,1000}[\\s\\S]{0,24}$", var.lock_name)) && !can(regex("^arn:", var.lock_name)))
    error_message = "The lock name must be 1 to 1024 characters and must not start with \"arn:\"."
  }
}

variable "lock_name_path" {
  description = "JSONPath into the execution input whose value names the lock, e.g. \"$.customerId\": one independent limit per value, each lock item created on first use. Null uses the static lock_name."
  type        = string
  default     = null

  validation {
    condition     = var.lock_name_path == null || can(regex("^\\$(\\.[A-Za-z_][A-Za-z0-9_-]*)+$", coalesce(var.lock_name_path, "$.x")))
    error_message = "The lock name path must be a simple JSONPath into the execution input such as \"$.customerId\" or \"$.tenant.id\" (dot notation; names of letters, digits, '_' and '-')."
  }
}

variable "concurrency_limit" {
  description = "Most executions (counted by weight) allowed inside the work at once, per lock."
  type        = number

  validation {
    condition     = var.concurrency_limit >= 1 && var.concurrency_limit <= 100000 && var.concurrency_limit % 1 == 0
    error_message = "The concurrency limit must be a whole number from 1 to 100000."
  }
}

variable "per_item_concurrency" {
  description = "Weight of one execution: how many of the concurrency_limit slots it takes. At most concurrency_limit."
  type        = number
  default     = 1

  validation {
    condition     = var.per_item_concurrency >= 1 && var.per_item_concurrency % 1 == 0
    error_message = "The per-item concurrency (weight) must be a whole number of at least 1 (and at most concurrency_limit)."
  }
}

variable "acquire_wait_seconds" {
  description = "Poll mode: average seconds a waiting execution sleeps between acquisition attempts while the semaphore is full. Each wait is drawn at random from this value plus or minus half of it, in whole seconds, so executions that started together do not keep polling together; with warmup_tps_limit, from 0 to twice this value (the acquire's retrier, full jitter)."
  type        = number
  default     = 5

  validation {
    condition     = var.acquire_wait_seconds >= 1 && var.acquire_wait_seconds <= 3600 && var.acquire_wait_seconds % 1 == 0
    error_message = "The acquire wait must be a whole number of seconds from 1 to 3600."
  }
}

variable "work_definition" {
  description = "The work to run while holding the semaphore, as a JSON ASL fragment with StartAt and States (like a Parallel branch), e.g. jsonencode({ StartAt = \"Call API\", States = { ... } })."
  type        = string

  validation {
    condition     = can(jsondecode(var.work_definition).StartAt) && can(keys(jsondecode(var.work_definition).States)) && can(jsondecode(var.work_definition).States[jsondecode(var.work_definition).StartAt])
    error_message = "The work definition must be a JSON object with \"StartAt\" and \"States\", where StartAt names one of the States."
  }
}

variable "map_work_definition" {
  description = "The work each Map iteration of the output map_state runs while holding a slot of its own, as a JSON ASL fragment with StartAt and States; it receives the iteration's item. Null (the default): no map_state. For fan-outs: every iteration is its own holder, so the limit counts iterations across all executions."
  type        = string
  default     = null

  validation {
    condition     = var.map_work_definition == null || (can(jsondecode(var.map_work_definition).StartAt) && can(keys(jsondecode(var.map_work_definition).States)) && can(jsondecode(var.map_work_definition).States[jsondecode(var.map_work_definition).StartAt]))
    error_message = "The map work definition must be null or a JSON object with \"StartAt\" and \"States\", where StartAt names one of the States."
  }
}

variable "map_item_selector" {
  description = "What each iteration of map_state passes its work as the item: a JSON object in ItemSelector form (keys ending in \".$\" take a path, e.g. jsonencode({ \"path.$\" = \"$$.Map.Item.Value\", \"bucket.$\" = \"$.bucket\" })), evaluated against the Map state's input and context. Null (the default) passes the item's value."
  type        = string
  default     = null

  validation {
    condition     = var.map_item_selector == null || can(keys(jsondecode(var.map_item_selector)))
    error_message = "The map item selector must be null or a JSON object."
  }
}

variable "fragment_name_suffixes" {
  description = "Suffixes for extra copies of the embeddable acquire and release states (output fragments): every state nested inside a copy's states has its name end in the suffix, so the fragments can be embedded more than once in one state machine (AWS refuses a name used twice anywhere in a machine), e.g. [\" (b)\"]. The plain fragments hold a slot per execution: inside a Map every iteration of one execution would share that one slot, so use map_state there. The plain outputs acquire_state, release_state and release_after_failure_state are the copy without a suffix."
  type        = list(string)
  default     = []

  validation {
    condition     = length(distinct(var.fragment_name_suffixes)) == length(var.fragment_name_suffixes) && alltrue([for s in var.fragment_name_suffixes : can(regex("^[A-Za-z0-9 ()._:#-]{1,40}$", s))])
    error_message = "Each fragment name suffix must be distinct and 1 to 40 characters of letters, digits, spaces and ( ) . _ : # - (state names are at most 80 characters)."
  }
}

variable "warmup_tps_limit" {
  description = "Warm-up rate limit: at most this many grants per second per lock, on top of concurrency_limit (e.g. 2 spaces grants 500 ms apart). Null acquires with the pure Step Functions path; a number adds the acquirer Lambda."
  type        = number
  default     = null

  validation {
    condition     = var.warmup_tps_limit == null || (coalesce(var.warmup_tps_limit, 1) > 0 && coalesce(var.warmup_tps_limit, 1) <= 1000)
    error_message = "The warm-up TPS limit must be a number greater than 0 and at most 1000 grants per second, or null for no warm-up limit."
  }
}

variable "acquire_mode" {
  description = "How a waiting execution gets its slot. \"poll\" (default): it retries the acquire every acquire_wait_seconds. \"queue\": it joins the lock's FIFO queue and sleeps, unbilled, until a release hands it the slot (two small Lambda functions do the queueing; Standard workflows only)."
  type        = string
  default     = "poll"

  validation {
    condition     = contains(["poll", "queue"], var.acquire_mode)
    error_message = "The acquire mode must be \"poll\" or \"queue\"."
  }
}

variable "max_queue_length" {
  description = "Queue mode: most executions waiting on one lock. One more fails with SemaphoreQueueFullError instead of waiting (nobody queued is lost). The lock item holds the queue, so the holders and the queue must fit in DynamoDB's 400 KB: 306 bytes per unit of concurrency_limit plus 286 per waiter (1,000 waiters fit next to a limit of up to 398)."
  type        = number
  default     = 1000

  validation {
    condition     = var.max_queue_length >= 1 && var.max_queue_length <= 1425 && var.max_queue_length % 1 == 0
    error_message = "The max queue length must be a whole number from 1 to 1425 (and fit next to concurrency_limit holders in one 400 KB item)."
  }
}

variable "guarded_state_machine_arns" {
  description = "ARNs of state machines of your own that embed this semaphore's states (outputs acquire_state, release_state, release_after_failure_state, fragments). Their executions are looked after like the module's own: one that ends FAILED, ABORTED or TIMED_OUT while holding a slot (or, in queue mode, waiting) gives it back through the status-change rule, and the sweeper releases it if that event is lost. Standard workflows (Express executions send no status events and cannot be described: only lock_lease_seconds covers them). Build each ARN from the machine's name if the machine also uses this module's outputs (a reference would be a cycle)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.guarded_state_machine_arns : can(regex("^arn:[a-z-]+:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}$", arn))])
    error_message = "Each guarded state machine must be a state machine ARN: arn:<partition>:states:<region>:<account>:stateMachine:<name>."
  }
}

variable "queue_peer_state_machine_arns" {
  description = "Queue mode: ARNs of other state machines whose executions queue on the same lock (other instances of this module sharing the lock table and lock name). The queue functions may then describe their executions too, so a slot granted to one that has ended is passed on at once; without it such a slot waits for the next re-check."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.queue_peer_state_machine_arns : can(regex("^arn:[a-z-]+:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}$", arn))])
    error_message = "Each peer must be a state machine ARN: arn:<partition>:states:<region>:<account>:stateMachine:<name>."
  }
}

variable "queue_recheck_seconds" {
  description = "Queue mode: a waiting execution re-checks its place after this many seconds without a resume (the waiting task's timeout; it keeps its place). Each re-check costs one billed state transition; a lost resume is recovered within this time. Keep it above the Lambda functions' 30 s timeout when warmup_tps_limit is set."
  type        = number
  default     = 300

  validation {
    condition     = var.queue_recheck_seconds >= 5 && var.queue_recheck_seconds <= 31536000 && var.queue_recheck_seconds % 1 == 0
    error_message = "The queue re-check interval must be a whole number of seconds from 5 to 31536000."
  }
}

################################################################################
# Lambda functions (the acquirer, when warmup_tps_limit is set)
################################################################################

variable "lambda_runtime" {
  description = "Python runtime of the module's Lambda functions."
  type        = string
  default     = "python3.12"

  validation {
    condition     = can(regex("^python3\\.(8|9|10|11|12|13|14)$", var.lambda_runtime))
    error_message = "The Lambda runtime must be one of python3.8, python3.9, python3.10, python3.11, python3.12, python3.13 or python3.14."
  }
}

variable "lambda_memory_size" {
  description = "Memory of the module's Lambda functions, in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240 && var.lambda_memory_size % 1 == 0
    error_message = "The Lambda memory size must be a whole number of MB from 128 to 10240."
  }
}

variable "lambda_reserved_concurrent_executions" {
  description = "Reserved concurrency of the module's Lambda functions; -1 leaves them unreserved."
  type        = number
  default     = -1

  validation {
    condition     = var.lambda_reserved_concurrent_executions >= -1 && var.lambda_reserved_concurrent_executions % 1 == 0
    error_message = "The reserved concurrency must be -1 (unreserved) or a whole number of at least 0."
  }
}

variable "lambda_kms_key_arn" {
  description = "ARN of a KMS key that encrypts the Lambda functions' environment variables. Null uses the AWS-managed key."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.lambda_kms_key_arn, "x")))
    error_message = "The Lambda KMS key must be a KMS key ARN (arn:aws:kms:...), or null."
  }
}

variable "lambda_dead_letter_target_arn" {
  description = "ARN of an SQS queue or SNS topic for the Lambda functions' failed asynchronous invocations. Null for none."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_dead_letter_target_arn == null || can(regex("^arn:aws[a-z-]*:(sqs|sns):", coalesce(var.lambda_dead_letter_target_arn, "x")))
    error_message = "The dead-letter target must be an SQS queue or SNS topic ARN, or null."
  }
}

################################################################################
# Metrics
################################################################################

variable "metrics_namespace" {
  description = "CloudWatch namespace for the counts the module's Lambda functions report (queue mode's two functions, poll mode's acquirer with warmup_tps_limit, the sweeper), as Embedded Metric Format log lines with one dimension, Semaphore = name: no API call and no permission, but each metric is a billed custom metric. Null (the default) reports none. The metrics are listed in the README's Metrics section."
  type        = string
  default     = null

  validation {
    condition     = var.metrics_namespace == null || (var.metrics_namespace != "" && can(regex("^[0-9A-Za-z._/#: -]{1,255}$", coalesce(var.metrics_namespace, "x"))) && can(regex("[^ ]", coalesce(var.metrics_namespace, "x"))) && substr(coalesce(var.metrics_namespace, "x"), 0, 4) != "AWS/")
    error_message = "The metrics namespace must be 1 to 255 characters of letters, digits, spaces and . - _ / # :, not all spaces and not starting with AWS/ (reserved for AWS), or null to report no metrics."
  }
}

################################################################################
# State machine
################################################################################

variable "state_machine_name" {
  description = "Name of the state machine. Defaults to name."
  type        = string
  default     = null

  validation {
    condition     = var.state_machine_name == null || can(regex("^[A-Za-z0-9_-]{1,80}$", var.state_machine_name))
    error_message = "The state machine name must be 1 to 80 characters of letters, digits, '-' and '_'."
  }
}

variable "state_machine_type" {
  description = "STANDARD or EXPRESS. Use STANDARD when executions can wait long for a slot or run over 5 minutes; the reaper relies on STANDARD status events."
  type        = string
  default     = "STANDARD"

  validation {
    condition     = contains(["STANDARD", "EXPRESS"], var.state_machine_type)
    error_message = "The state machine type must be \"STANDARD\" or \"EXPRESS\"."
  }
}

variable "state_machine_timeout_seconds" {
  description = "TimeoutSeconds for the whole execution, waiting included. Null means no timeout of the module's own (Standard: one year)."
  type        = number
  default     = null

  validation {
    condition     = var.state_machine_timeout_seconds == null || (coalesce(var.state_machine_timeout_seconds, 1) >= 1 && coalesce(var.state_machine_timeout_seconds, 1) <= 31536000 && coalesce(var.state_machine_timeout_seconds, 1) % 1 == 0)
    error_message = "The state machine timeout must be a whole number of seconds from 1 to 31536000 (one year), or null."
  }
}

variable "logging_level" {
  description = "Execution logging level: OFF, ALL, ERROR or FATAL. Anything but OFF sends logs to the log group."
  type        = string
  default     = "OFF"

  validation {
    condition     = contains(["OFF", "ALL", "ERROR", "FATAL"], var.logging_level)
    error_message = "The logging level must be one of OFF, ALL, ERROR, FATAL."
  }
}

variable "logging_include_execution_data" {
  description = "Whether execution logs include inputs and outputs (they can hold your data)."
  type        = bool
  default     = false
}

variable "create_cloudwatch_log_group" {
  description = "Whether to create the log group for execution logs (when logging_level is not OFF). Set false to use cloudwatch_log_group_arn."
  type        = bool
  default     = true
}

variable "cloudwatch_log_group_arn" {
  description = "ARN of an existing log group for execution logs, used when create_cloudwatch_log_group is false."
  type        = string
  default     = null
}

variable "cloudwatch_log_group_retention_in_days" {
  description = "Retention of the execution log group the module creates, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653], var.cloudwatch_log_group_retention_in_days)
    error_message = "The log retention must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653 days."
  }
}

variable "cloudwatch_log_group_kms_key_arn" {
  description = "ARN of a customer-managed KMS key to encrypt the log groups the module creates: the execution log group (/aws/vendedlogs/states/<state machine name>), the reaper's (<name>-reaper, with logging on) and the Lambda functions' (/aws/lambda/<name>-sweeper, /aws/lambda/<name>-acquire); its key policy must let CloudWatch Logs (logs.<region>.amazonaws.com) use it for those log groups. Null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null

  validation {
    condition     = var.cloudwatch_log_group_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.cloudwatch_log_group_kms_key_arn))
    error_message = "The log group KMS key must be a KMS key ARN (arn:aws:kms:...), or null."
  }
}

variable "tracing_enabled" {
  description = "Whether AWS X-Ray tracing is on for the state machine (sampled traces of the acquire, wait, work and release steps). Adds the four X-Ray write actions to the role. Set false to turn it off."
  type        = bool
  default     = true
}

################################################################################
# IAM
################################################################################

variable "role_arn" {
  description = "ARN of an existing IAM role for the state machine. Null creates a least-privilege role (only this semaphore's lock table, plus logging and tracing when on). A role you bring must allow whatever your work states call."
  type        = string
  default     = null
}

variable "role_permissions_boundary" {
  description = "ARN of a permissions boundary for the role the module creates."
  type        = string
  default     = null
}

variable "role_policy_json" {
  description = "Extra IAM policy (JSON) attached to the created role, for the services your work states call."
  type        = string
  default     = null

  validation {
    condition     = var.role_policy_json == null || can(jsondecode(coalesce(var.role_policy_json, "{}")).Statement)
    error_message = "The role policy must be an IAM policy document in JSON with a \"Statement\"."
  }
}

################################################################################
# Slot recovery: the reaper and the sweeper
################################################################################

variable "create_reaper" {
  description = "Whether to create a reaper for this semaphore: a Step Functions state machine, started by an EventBridge rule when an execution ends FAILED, ABORTED or TIMED_OUT, that gives back the slot it still holds. Set false to attach to an existing reaper (reaper_state_machine_arn) or to have none. Standard workflows only (Express executions send no status events)."
  type        = bool
  default     = true
}

variable "reaper_state_machine_arn" {
  description = "ARN of an existing reaper (modules/reaper) to attach this semaphore to, with create_reaper = false. Its role must already allow this semaphore's lock table (its lock_table_arns), or its runs for this semaphore fail with AccessDenied."
  type        = string
  default     = null

  validation {
    condition     = var.reaper_state_machine_arn == null || can(regex("^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}$", coalesce(var.reaper_state_machine_arn, "x")))
    error_message = "The reaper must be a state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME), or null."
  }
}

variable "reaper_events_role_arn" {
  description = "ARN of the IAM role EventBridge assumes to start the existing reaper (the events_role_arn output of modules/reaper). Required with reaper_state_machine_arn."
  type        = string
  default     = null

  validation {
    condition     = var.reaper_events_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", coalesce(var.reaper_events_role_arn, "x")))
    error_message = "The reaper's events role must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), or null."
  }
}

variable "sweep_interval_minutes" {
  description = "Minutes between two runs of the sweeper, a scheduled Lambda that gives back every slot whose holder's execution is no longer running (the safety net under the reaper, whose events are best effort). Null turns the sweeper off."
  type        = number
  default     = 5

  validation {
    condition     = var.sweep_interval_minutes == null || (coalesce(var.sweep_interval_minutes, 1) >= 1 && coalesce(var.sweep_interval_minutes, 1) <= 1440 && coalesce(var.sweep_interval_minutes, 1) % 1 == 0)
    error_message = "The sweep interval must be a whole number of minutes from 1 to 1440, or null to turn the sweeper off."
  }
}

variable "lock_lease_seconds" {
  description = "Lease for the sweeper: a holder whose execution status cannot be read (throttled, denied, an Express execution) is released once it has held its slot this long. Null (the default) releases a holder only when its execution is known to have ended. Set it longer than any execution can hold a slot."
  type        = number
  default     = null

  validation {
    condition     = var.lock_lease_seconds == null || (coalesce(var.lock_lease_seconds, 1) >= 1 && coalesce(var.lock_lease_seconds, 1) % 1 == 0)
    error_message = "The lock lease must be a whole number of seconds of at least 1, or null for no lease."
  }
}
