"""The sweeper Lambda: gives back the slots of executions that are no longer running, on a schedule."""
