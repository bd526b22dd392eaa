"""What the two front ends (the manager portal and the resident app) share: the gate that runs
the API's permission check for a page, and how times and schedules are written for a person.
"""
