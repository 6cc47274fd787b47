# The benchmark's baseline: a semaphore shaped like the published AWS sample construct for controlling
# concurrency with DynamoDB, written here from its description (not this module):
#
# - the acquire is one conditional UpdateItem whose Retry on States.ALL (6 attempts, backoff rate 2) comes
#   before its Catch, so a full semaphore (ConditionalCheckFailed) is first retried in place 6 times, 1 + 2 +
#   4 + 8 + 16 + 32 = 63 s, and only then caught;
# - the catch reads the lock record, decides from the item's text whether this execution already holds a slot,
#   and otherwise waits acquire_wait_seconds (5 s) and starts the acquire again, retries and all;
# - the lock item is created on first use by a conditional PutItem, as in the sample;
# - the release is one conditional UpdateItem.
#
# The outer states carry the module's names ("Acquire semaphore", "Run work", "Release semaphore") and the
# work is the same "Do work" Wait as in every other mode, so one analysis reads all histories alike. The item
# uses the module's attribute names (lockCount, one attribute per holder named by its execution ARN) so the
# benchmark's sampler reads it too; each holder's value is the acquiring state's entered time, as in the sample.

locals {
  lock_name      = "baseline"
  lock_key       = { LockName = { S = local.lock_name } }
  missing_item   = ["DynamoDB.AmazonDynamoDBException", "DynamoDB.ValidationException"]
  condition_fail = ["DynamoDB.ConditionalCheckFailedException"]

  definition = jsonencode({
    Comment = "Baseline semaphore shaped like the AWS sample construct: in-place retries, then a wait loop."
    StartAt = "Acquire semaphore"
    States = {
      "Acquire semaphore" = {
        Comment    = "Waits until this execution holds a slot."
        Type       = "Parallel"
        ResultPath = null
        Next       = "Run work"
        Branches = [{
          StartAt = "Acquire lock"
          States = {
            "Acquire lock" = {
              # On a missing item the condition holds and the SET fails on the missing count: the Catch creates it.
              Comment  = "Takes a slot if the count leaves room for this weight and this execution holds none yet."
              Type     = "Task"
              Resource = "arn:aws:states:::dynamodb:updateItem"
              Parameters = {
                TableName           = aws_dynamodb_table.this.name
                Key                 = local.lock_key
                UpdateExpression    = "SET #count = #count + :weight, #holder = :acquiredAt"
                ConditionExpression = "(attribute_not_exists(#count) OR #count <= :maxBefore) AND attribute_not_exists(#holder)"
                ExpressionAttributeNames = {
                  "#count"    = "lockCount"
                  "#holder.$" = "$$.Execution.Id"
                }
                ExpressionAttributeValues = {
                  ":weight"     = { N = tostring(var.weight) }
                  ":maxBefore"  = { N = tostring(var.concurrency_limit - var.weight) }
                  ":acquiredAt" = { "S.$" = "$$.State.EnteredTime" }
                }
              }
              ResultPath = null
              Retry = [
                {
                  Comment     = "No lock item yet: no retry, the Catch below creates it."
                  ErrorEquals = local.missing_item
                  MaxAttempts = 0
                },
                {
                  Comment     = "Everything else, a full semaphore included, is retried in place first."
                  ErrorEquals = ["States.ALL"]
                  MaxAttempts = 6
                  BackoffRate = 2
                },
              ]
              Catch = [
                {
                  ErrorEquals = local.missing_item
                  ResultPath  = null
                  Next        = "Initialize lock item"
                },
                {
                  ErrorEquals = local.condition_fail
                  ResultPath  = null
                  Next        = "Get lock record"
                },
              ]
              End = true
            }
            "Initialize lock item" = {
              Comment  = "Creates the lock item with a count of 0, unless another execution just did."
              Type     = "Task"
              Resource = "arn:aws:states:::dynamodb:putItem"
              Parameters = {
                TableName           = aws_dynamodb_table.this.name
                Item                = merge(local.lock_key, { lockCount = { N = "0" } })
                ConditionExpression = "attribute_not_exists(LockName)"
              }
              ResultPath = null
              Catch = [{
                ErrorEquals = local.condition_fail
                ResultPath  = null
                Next        = "Acquire lock"
              }]
              Next = "Acquire lock"
            }
            "Get lock record" = {
              Comment  = "Reads this execution's holder attribute, to tell a full semaphore from a slot already held."
              Type     = "Task"
              Resource = "arn:aws:states:::dynamodb:getItem"
              Parameters = {
                TableName                = aws_dynamodb_table.this.name
                Key                      = local.lock_key
                ProjectionExpression     = "#holder"
                ExpressionAttributeNames = { "#holder.$" = "$$.Execution.Id" }
                ConsistentRead           = true
              }
              ResultSelector = { "itemText.$" = "States.JsonToString($.Item)" }
              ResultPath     = "$.lockRecord"
              Next           = "Already holding?"
            }
            "Already holding?" = {
              Comment = "Decided on the item's text: a holder attribute's name is the execution ARN (the sample matches the entered time's text instead, which emulators format differently)."
              Type    = "Choice"
              Choices = [{
                Variable      = "$.lockRecord.itemText"
                StringMatches = "*arn:*"
                Next          = "Slot already held"
              }]
              Default = "Wait for a free slot"
            }
            "Slot already held" = {
              Type = "Pass"
              End  = true
            }
            "Wait for a free slot" = {
              Type    = "Wait"
              Seconds = var.acquire_wait_seconds
              Next    = "Acquire lock"
            }
          }
        }]
      }
      "Run work" = {
        Comment    = "The same work as every other mode."
        Type       = "Parallel"
        ResultPath = null
        Next       = "Release semaphore"
        Branches = [{
          StartAt = "Do work"
          States = {
            "Do work" = {
              Type    = "Wait"
              Seconds = var.work_seconds
              End     = true
            }
          }
        }]
      }
      "Release semaphore" = {
        Comment  = "Gives the slot back, unless it is not held any more."
        Type     = "Task"
        Resource = "arn:aws:states:::dynamodb:updateItem"
        Parameters = {
          TableName           = aws_dynamodb_table.this.name
          Key                 = local.lock_key
          UpdateExpression    = "SET #count = #count - :weight REMOVE #holder"
          ConditionExpression = "attribute_exists(#holder)"
          ExpressionAttributeNames = {
            "#count"    = "lockCount"
            "#holder.$" = "$$.Execution.Id"
          }
          ExpressionAttributeValues = { ":weight" = { N = tostring(var.weight) } }
        }
        ResultPath = null
        Retry = [
          {
            ErrorEquals = local.condition_fail
            MaxAttempts = 0
          },
          {
            ErrorEquals = ["States.ALL"]
            MaxAttempts = 5
            BackoffRate = 1.5
          },
        ]
        Catch = [{
          ErrorEquals = local.condition_fail
          ResultPath  = null
          Next        = "Already released"
        }]
        End = true
      }
      "Already released" = {
        Type = "Pass"
        End  = true
      }
    }
  })
}

resource "aws_dynamodb_table" "this" {
  #checkov:skip=CKV_AWS_119:As in the AWS sample this baseline reproduces (its lock table): the AWS-managed key. Benchmark only, on the local AWS
  #checkov:skip=CKV_AWS_28:As in the AWS sample this baseline reproduces: no point-in-time recovery. Benchmark only, on the local AWS, one run's lock items
  name         = "${var.name}-locks"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "LockName"

  attribute {
    name = "LockName"
    type = "S"
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "lock_table" {
  statement {
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.this.arn]
  }
}

resource "aws_iam_role" "this" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy" "this" {
  name   = "lock-table"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.lock_table.json
}

resource "aws_sfn_state_machine" "this" {
  #checkov:skip=CKV_AWS_284:Benchmark only, applied to the local AWS, which has no X-Ray; the figures come from execution histories, which tracing does not change
  #checkov:skip=CKV_AWS_285:Benchmark only, applied to the local AWS, which delivers no execution logs; the figures come from execution histories
  name       = var.name
  role_arn   = aws_iam_role.this.arn
  definition = local.definition

  depends_on = [aws_iam_role_policy.this]
}
