"""Simulated buildings and actors: the demo building with its locks, and the simulator.

Nothing here is used by a lock or the service at run time; it only creates data.
"""
