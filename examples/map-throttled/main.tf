provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  # Built from the name: the semaphore needs the downloader's ARN (to reap and sweep its iterations' slots)
  # before the machine, which embeds the semaphore's Map state, exists.
  downloader_name = "${var.name}-downloader"
  downloader_arn  = "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:stateMachine:${local.downloader_name}"
}

# A Distributed Map starts each iteration as a child execution of the downloader: its role may start them and
# describe or stop them (AWS's least privilege for a Distributed Map state).
data "aws_iam_policy_document" "distributed_map" {
  statement {
    sid       = "StartChildExecutions"
    actions   = ["states:StartExecution"]
    resources = [local.downloader_arn]
  }

  statement {
    sid       = "WatchChildExecutions"
    actions   = ["states:DescribeExecution", "states:StopExecution"]
    resources = ["${replace(local.downloader_arn, ":stateMachine:", ":execution:")}/*"]
  }
}

# The image host's limit, shared by every execution of the downloader: at most concurrency_limit batches are
# being downloaded at once, whatever each execution's Map MaxConcurrency allows.
module "sfn_semaphore" {
  source = "../../"

  name                       = var.name
  concurrency_limit          = var.concurrency_limit
  acquire_mode               = var.acquire_mode
  acquire_wait_seconds       = var.acquire_wait_seconds
  guarded_state_machine_arns = [local.downloader_arn]
  role_policy_json           = var.map_mode == "DISTRIBUTED" ? data.aws_iam_policy_document.distributed_map.json : null

  # Each iteration's work receives its batch's paths, its index and whether a path is broken.
  map_item_selector = jsonencode({
    "batch.$"  = "$$.Map.Item.Index"
    "paths.$"  = "$$.Map.Item.Value"
    "broken.$" = "States.ArrayContains($$.Map.Item.Value, 'broken.jpg')"
  })

  # Each Map iteration of map_state downloads one batch while holding a slot of its own. A failed download is
  # caught inside the work and reported as the batch's result, so the batch is not lost and its slot is back.
  map_work_definition = jsonencode({
    StartAt = "Download batch"
    States = {
      "Download batch" = {
        Type    = "Parallel"
        Comment = "Stands in for the downloader (a Lambda or an HTTP task in production): fails on a path named broken.jpg, otherwise takes download_seconds."
        Branches = [{
          StartAt = "Broken path?"
          States = {
            "Broken path?" = {
              Type    = "Choice"
              Choices = [{ Variable = "$.broken", BooleanEquals = true, Next = "Download failed" }]
              Default = "Fetch"
            }
            "Download failed" = { Type = "Fail", Error = "DownloadError", Cause = "The image host refused a path." }
            "Fetch"           = { Type = "Wait", Seconds = var.download_seconds, Next = "Downloaded" }
            "Downloaded" = {
              Type       = "Pass"
              Parameters = { "batch.$" = "$.batch", "status" = "downloaded", "count.$" = "States.ArrayLength($.paths)" }
              End        = true
            }
          }
        }]
        OutputPath = "$[0]"
        Catch      = [{ ErrorEquals = ["States.ALL"], ResultPath = "$.error", Next = "Report failed batch" }]
        End        = true
      }
      "Report failed batch" = {
        Type       = "Pass"
        Parameters = { "batch.$" = "$.batch", "status" = "failed", "error.$" = "$.error.Error" }
        End        = true
      }
    }
  })

  # The module's own state machine is created too; this example runs only the downloader below.
  work_definition = jsonencode({
    StartAt = "Nothing"
    States  = { "Nothing" = { Type = "Pass", End = true } }
  })

  tags = {
    Example = "map-throttled"
  }
}

locals {
  map_state = jsondecode(module.sfn_semaphore.map_state)

  processor_configs = {
    INLINE      = { Mode = "INLINE" }
    DISTRIBUTED = { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" }
  }
}

resource "aws_sfn_state_machine" "downloader" {
  #checkov:skip=CKV_AWS_284:An example kept minimal; the module's own machine shows tracing
  #checkov:skip=CKV_AWS_285:An example kept minimal; the module's own machine shows logging
  name = local.downloader_name
  # The semaphore's role allows exactly what its states call (the lock table, or the queue functions).
  role_arn = module.sfn_semaphore.role_arn

  definition = jsonencode({
    Comment = "Downloads a list of images in batches, at most max_concurrency batches per execution and concurrency_limit across all executions."
    StartAt = "Make batches"
    States = {
      "Make batches" = {
        Type       = "Pass"
        Comment    = "Splits the paths into batches of batch_size."
        Parameters = { "batches.$" = "States.ArrayPartition($.paths, ${var.batch_size})" }
        Next       = "Download batches"
      }
      "Download batches" = merge(local.map_state, {
        # INLINE runs the iterations inside the execution; DISTRIBUTED as child executions (Standard), each
        # iteration's slot still tied to this execution by the holder id the ItemSelector makes.
        ItemProcessor  = merge(local.map_state.ItemProcessor, { ProcessorConfig = local.processor_configs[var.map_mode] })
        ItemsPath      = "$.batches"
        MaxConcurrency = var.max_concurrency
        ResultPath     = "$.results"
        Next           = "Report"
      })
      "Report" = {
        Type       = "Pass"
        Comment    = "Every batch's result, downloaded or failed."
        Parameters = { "batches.$" = "States.ArrayLength($.results)", "results.$" = "$.results" }
        End        = true
      }
    }
  })

  tags = {
    Example = "map-throttled"
  }
}
