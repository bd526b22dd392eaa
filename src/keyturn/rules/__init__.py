"""The pure access rules shared by the lock and the cloud.

Nothing here does I/O or reads a clock: callers pass every fact in, so one question
("why could X open door Y at T?") has exactly one answer everywhere.
"""
