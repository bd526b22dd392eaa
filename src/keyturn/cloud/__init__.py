"""The Keyturn cloud service: API, portal, background jobs and the database they share.

Each domain (properties, people, access, devices, history, privacy, mail) lives in its own
package with the same few modules; `keyturn.cloud.models` gathers every table.
"""
