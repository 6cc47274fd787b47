################################################################################
# Slot recovery, periodic: the sweeper
#
# Every sweep_interval_minutes a Lambda (modules/sweeper) releases every holder of this semaphore whose
# execution is no longer running, and deletes such executions' index items. In queue mode it releases through
# the queue release function (the slot goes to the next waiters) and removes ended executions from the queue. It catches what the reaper
# misses (status-change events are best effort) and, with lock_lease_seconds, holders whose status cannot
# be read (Express executions among them).
################################################################################

module "sweeper" {
  source = "./modules/sweeper"
  count  = var.sweep_interval_minutes != null ? 1 : 0

  name = "${var.name}-sweeper"
  # Relative to this root module, which is always used with the repository around it.
  filename = "${path.module}/lambdas/dist/sweeper.zip"
  lock_tables = [{
    name              = local.lock_table_name
    arn               = local.lock_table_arn
    lock_id_attribute = var.lock_id_attribute
  }]
  lock_table_kms_key_arns    = var.lock_table_kms_key_arn != null ? [var.lock_table_kms_key_arn] : []
  state_machine_arns         = local.guarded_state_machine_arns
  schedule_interval_minutes  = var.sweep_interval_minutes
  lock_lease_seconds         = var.lock_lease_seconds
  queue_release_function_arn = local.queue ? module.queue[0].release_function_arn : null

  runtime                                = var.lambda_runtime
  memory_size                            = var.lambda_memory_size
  reserved_concurrent_executions         = var.lambda_reserved_concurrent_executions
  kms_key_arn                            = var.lambda_kms_key_arn
  dead_letter_target_arn                 = var.lambda_dead_letter_target_arn
  tracing_mode                           = local.lambda_tracing_mode
  role_permissions_boundary              = var.role_permissions_boundary
  cloudwatch_log_group_retention_in_days = var.cloudwatch_log_group_retention_in_days
  cloudwatch_log_group_kms_key_id        = var.cloudwatch_log_group_kms_key_arn
  metrics_namespace                      = var.metrics_namespace
  metrics_semaphore                      = var.name
  tags                                   = var.tags
}
