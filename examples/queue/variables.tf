variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the semaphore (state machine, Lambda functions, roles, lock table prefix)."
  type        = string
  default     = "sfn-semaphore-queue"
}

variable "concurrency_limit" {
  description = "Most executions (counted by weight) inside the work at once."
  type        = number
  default     = 4
}

variable "per_item_concurrency" {
  description = "Weight of each execution."
  type        = number
  default     = 1
}

variable "lock_name_path" {
  description = "JSONPath into the execution input that names the lock (one queue per value), or null for one lock named after the semaphore."
  type        = string
  default     = null
}

variable "max_queue_length" {
  description = "Most executions waiting on one lock; one more fails with SemaphoreQueueFullError."
  type        = number
  default     = 1000
}

variable "queue_recheck_seconds" {
  description = "Seconds after which a waiting execution that was not resumed re-checks its place."
  type        = number
  default     = 300
}

variable "warmup_tps_limit" {
  description = "Most grants per second per lock, or null for no warm-up limit."
  type        = number
  default     = null
}

variable "work_seconds" {
  description = "How long each execution holds its slot."
  type        = number
  default     = 1
}

variable "lambda_runtime" {
  description = "Python runtime of the queue Lambda functions."
  type        = string
  default     = "python3.12"
}

variable "metrics_namespace" {
  description = "CloudWatch namespace for the Lambdas' metrics (grants, waits, handoffs, reclaimed slots), or null for none."
  type        = string
  default     = null
}
