variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the semaphore (state machine, Lambda, role, lock table prefix)."
  type        = string
  default     = "sfn-semaphore-warmup"
}

variable "concurrency_limit" {
  description = "Most executions inside the work at once."
  type        = number
  default     = 5
}

variable "warmup_tps_limit" {
  description = "Most grants per second."
  type        = number
  default     = 2
}

variable "acquire_wait_seconds" {
  description = "Seconds a waiting execution sleeps before it tries again for a slot."
  type        = number
  default     = 5
}

variable "work_seconds" {
  description = "How long each execution holds its slot."
  type        = number
  default     = 1
}

variable "lambda_runtime" {
  description = "Python runtime of the acquirer Lambda."
  type        = string
  default     = "python3.12"
}

variable "metrics_namespace" {
  description = "CloudWatch namespace for the acquirer's and the sweeper's metrics (grants, refusals, warm-up waits), or null for none."
  type        = string
  default     = null
}
