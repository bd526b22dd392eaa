"""Simulated buildings and actors: the demo building now, the load simulator later.

Nothing here is used by a lock or the service at run time; it only creates data.
"""
