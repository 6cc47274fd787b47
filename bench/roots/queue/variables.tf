variable "name" {
  description = "Name of the semaphore (state machine, role, Lambdas, lock table prefix); unique per benchmark run."
  type        = string
}

variable "concurrency_limit" {
  description = "Most executions (counted by weight) inside the work at once."
  type        = number
}

variable "weight" {
  description = "Weight of every execution (the module's per_item_concurrency)."
  type        = number
  default     = 1
}

variable "work_seconds" {
  description = "How long each execution holds its slot: a Wait state standing in for the real work."
  type        = number
}

variable "warmup_tps_limit" {
  description = "Warm-up rate: most grants per second (the module's warmup_tps_limit), or null for none."
  type        = number
  default     = null
}
