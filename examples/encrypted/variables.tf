variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the semaphore (state machine, role, lock table prefix, log group, key alias)."
  type        = string
  default     = "sfn-semaphore-encrypted"
}

variable "concurrency_limit" {
  description = "Most executions inside the work at once."
  type        = number
  default     = 3
}

variable "work_seconds" {
  description = "How long each execution holds its slot."
  type        = number
  default     = 1
}
