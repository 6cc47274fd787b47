"""The acquirer Lambda: grants semaphore slots under a concurrency limit and an optional warm-up rate."""
