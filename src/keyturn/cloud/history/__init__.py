"""Access history: events uploaded by locks, their photos, and recorded log gaps.

Events are ingested idempotently by (device, sequence number); a gap the cloud can never
fill is stored as an explicit interval instead of being hidden.
"""
