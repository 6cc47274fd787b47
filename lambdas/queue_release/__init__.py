"""Queue mode's release: give a slot back and hand it to the oldest waiters that fit."""
