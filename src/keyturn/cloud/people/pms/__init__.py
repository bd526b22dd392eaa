"""Property-management-system (PMS) sync: residents and leases read from a PMS, turned into
move-ins, lease changes and move-outs through the residency service.

`connectors` reads the PMS (one method, swappable), `plan` decides what changes (pure),
`service` applies a plan and keeps the reviews of partial matches.
"""
