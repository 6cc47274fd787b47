variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the semaphore (and of its state machine, role and lock table prefix)."
  type        = string
  default     = "sfn-semaphore-stream-relay"
}

variable "consume_seconds" {
  description = "How long one generation of the stand-in consumer reads its stream before handing over to the next."
  type        = number
  default     = 5
}

variable "acquire_mode" {
  description = "\"poll\" or \"queue\" (the module's acquire_mode): how the waiting successor learns that its predecessor released."
  type        = string
  default     = "poll"
}

variable "acquire_wait_seconds" {
  description = "Poll mode: seconds between a waiting successor's acquire attempts (the longest gap of a handoff)."
  type        = number
  default     = 1
}
