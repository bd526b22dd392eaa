"""The sync protocol between locks and the cloud: typed, versioned messages and their sealing.

The same sealed bytes travel over HTTP, MQTT or a resident's phone; no carrier is trusted.
"""
