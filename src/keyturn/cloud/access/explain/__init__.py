"""Explain and review: whether and why a person opens a door, and who can, as the lock decides."""
