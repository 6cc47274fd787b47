variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "sfn-semaphore-shared"
}

variable "database_limit" {
  description = "Most executions of the database semaphore inside their work at once."
  type        = number
  default     = 2
}

variable "partner_api_limit" {
  description = "Most executions of the partner API semaphore inside their work at once."
  type        = number
  default     = 5
}

variable "work_seconds" {
  description = "How long each execution holds its slot."
  type        = number
  default     = 1
}
