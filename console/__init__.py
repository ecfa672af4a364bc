"""The operator console (`/console`): operator accounts, sessions and server-rendered pages.

A package of its own beside the adapters and the projection: it reads the LRS through its
public modules (statement query service, credential code) and the projection through its
service (status, webhook deliveries, the audit log), and nothing imports it but the
composition root and the `lrs` command.
"""
