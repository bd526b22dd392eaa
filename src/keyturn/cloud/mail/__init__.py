"""Outgoing email, written to an outbox in the same transaction as the change it reports.

A background job sends what is pending and records each attempt.
"""
