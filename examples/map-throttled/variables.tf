variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the semaphore (and prefix of the downloader state machine, role and lock table)."
  type        = string
  default     = "sfn-semaphore-map"
}

variable "concurrency_limit" {
  description = "Most batches being downloaded at once, across every execution of the downloader."
  type        = number
  default     = 4
}

variable "max_concurrency" {
  description = "The Map's MaxConcurrency: most batches of one execution in flight (waiting or downloading)."
  type        = number
  default     = 10
}

variable "batch_size" {
  description = "Paths per batch (one Map iteration each)."
  type        = number
  default     = 2
}

variable "download_seconds" {
  description = "How long the stand-in downloader takes per batch."
  type        = number
  default     = 2
}

variable "acquire_mode" {
  description = "\"poll\" or \"queue\" (the module's acquire_mode)."
  type        = string
  default     = "poll"
}

variable "acquire_wait_seconds" {
  description = "Poll mode: seconds between a waiting iteration's attempts."
  type        = number
  default     = 2
}

variable "map_mode" {
  description = "\"INLINE\" runs the Map's iterations inside each execution; \"DISTRIBUTED\" runs each as a child execution (Standard) of a Distributed Map."
  type        = string
  default     = "INLINE"

  validation {
    condition     = contains(["INLINE", "DISTRIBUTED"], var.map_mode)
    error_message = "The map mode must be \"INLINE\" or \"DISTRIBUTED\"."
  }
}
