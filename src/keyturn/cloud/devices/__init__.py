"""Locks: their models and capabilities, provisioning, and what each one has applied.

A device is bound to at most one door; staleness is the gap between the door's newest
access-list version and the version the lock last reported.
"""
