"""Queue mode's acquire: join the lock's FIFO queue and wait for a slot without polling."""
