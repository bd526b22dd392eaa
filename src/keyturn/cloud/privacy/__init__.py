"""Privacy: the audit trail, retention, and data-subject requests (copy and deletion).

Every disclosure and every privacy workflow step leaves an audit record that itself
expires on a schedule.
"""
