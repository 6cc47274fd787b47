variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the semaphore (state machine, role, lock table prefix)."
  type        = string
  default     = "sfn-semaphore-basic"
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

variable "acquire_wait_seconds" {
  description = "Average seconds a waiting execution sleeps before it tries again for a slot (each wait is drawn from this plus or minus half of it)."
  type        = number
  default     = 5
}
