variable "name" {
  description = "Name of the state machine, its role and (with \"-locks\") its lock table; unique per benchmark run."
  type        = string
}

variable "concurrency_limit" {
  description = "Most executions (counted by weight) inside the work at once."
  type        = number
}

variable "weight" {
  description = "Weight of every execution: how many of the concurrency_limit slots it takes."
  type        = number
  default     = 1
}

variable "work_seconds" {
  description = "How long each execution holds its slot: a Wait state standing in for the real work."
  type        = number
}

variable "acquire_wait_seconds" {
  description = "Seconds a waiting execution sleeps between passes of its wait loop (5 in the shape benchmarked)."
  type        = number
  default     = 5
}
