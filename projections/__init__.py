"""The marketplace projection: statements → per-member learning records for the talent
marketplace, its API (`/marketplace/v1`), signed webhooks, export and reconciliation.

Layers, each usable without the next: `mapping`/`transforms`/`identity`/`facts`/`aggregates`
(pure rules) → `worker` and `reconcile` (over the stores in `projections.store`) → `tokens`,
`api`, `http` (the HTTP surface) → `webhooks` (delivery) → `export`. `cli` adds the `lrs`
subcommands.
"""
