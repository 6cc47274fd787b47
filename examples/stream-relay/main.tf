provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  # Built from the name: the work below starts the next execution of the module's own state machine, whose ARN
  # the work definition needs before the machine exists. The machine is named after the semaphore (the
  # module's state_machine_name is left unset).
  state_machine_name = var.name
  state_machine_arn  = "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:stateMachine:${local.state_machine_name}"
}

# The one permission the relay adds to the module's role: start the next execution of this same machine. The
# request-response startExecution integration (no .sync) needs nothing more: no DescribeExecution, no
# StopExecution, no EventBridge rule.
data "aws_iam_policy_document" "relay" {
  statement {
    sid       = "StartSuccessor"
    actions   = ["states:StartExecution"]
    resources = [local.state_machine_arn]
  }
}

# One consumer per stream: the lock is named after the stream ($.streamId) and holds one execution, so a
# duplicated trigger waits instead of consuming the same stream twice, while other streams run side by side.
# Each execution consumes until its time is up, starts its successor (which queues on the same lock) and
# releases: the successor takes over as soon as the slot is free, never while its predecessor still runs.
module "sfn_semaphore" {
  source = "../../"

  name                 = var.name
  lock_name_path       = "$.streamId"
  concurrency_limit    = 1
  acquire_mode         = var.acquire_mode
  acquire_wait_seconds = var.acquire_wait_seconds

  work_definition = jsonencode({
    StartAt = "Consume stream"
    States = {
      "Consume stream" = {
        Type    = "Wait"
        Comment = "Stands in for the consumer (a Lambda or an ECS task reading the stream until its time limit in production): takes consume_seconds."
        Seconds = var.consume_seconds
        Next    = "Hand over?"
      }
      "Hand over?" = {
        Type    = "Choice"
        Comment = "A stream has maxGenerations consumers one after the other; the last one starts no successor."
        Choices = [{
          Variable            = "$.generation"
          NumericLessThanPath = "$.maxGenerations"
          Next                = "Describe successor"
        }]
        Default = "Last generation"
      }
      "Describe successor" = {
        Type       = "Pass"
        Comment    = "The next generation's input: same stream, generation + 1."
        Parameters = { "streamId.$" = "$.streamId", "generation.$" = "States.MathAdd($.generation, 1)", "maxGenerations.$" = "$.maxGenerations" }
        ResultPath = "$.successor"
        Next       = "Start successor"
      }
      "Start successor" = {
        Type     = "Task"
        Comment  = "Starts the next generation while this one still holds the stream's slot: the successor waits on the lock and takes over when this execution releases. Its name comes from the stream and the generation, so a retried call, or a duplicate predecessor, cannot start a second consumer: Step Functions answers with the running execution (same name and input) or ExecutionAlreadyExists."
        Resource = "arn:${data.aws_partition.current.partition}:states:::states:startExecution"
        Parameters = {
          StateMachineArn = local.state_machine_arn
          "Name.$"        = "States.Format('{}-gen-{}', $.successor.streamId, $.successor.generation)"
          "Input.$"       = "$.successor"
        }
        ResultSelector = { "executionArn.$" = "$.ExecutionArn" }
        ResultPath     = "$.handedOverTo"
        Retry = [{
          Comment         = "Throttled or failed in transit: starting again is safe, the name makes it idempotent."
          ErrorEquals     = ["StepFunctions.ThrottlingException", "StepFunctions.SdkClientException", "StepFunctions.AWSStepFunctionsException", "StepFunctions.ExecutionLimitExceededException"]
          IntervalSeconds = 1
          MaxAttempts     = 5
          BackoffRate     = 2
        }]
        Catch = [{
          ErrorEquals = ["StepFunctions.ExecutionAlreadyExistsException"]
          ResultPath  = "$.handoverError"
          Next        = "Successor already started"
        }]
        End = true
      }
      "Successor already started" = {
        Type    = "Succeed"
        Comment = "Another execution of this stream (an earlier attempt, or a duplicated trigger of this generation) already started the successor: nothing more to do."
      }
      "Last generation" = {
        Type = "Succeed"
      }
    }
  })

  role_policy_json = data.aws_iam_policy_document.relay.json

  tags = {
    Example = "stream-relay"
  }
}
