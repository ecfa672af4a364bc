"""The marketplace API over HTTP: a sub-application mounted at /marketplace (`app`).

    POST   /marketplace/v1/oauth/token                        client credentials, authorization
                                                              code + PKCE, refresh → tokens
    POST   /marketplace/v1/oauth/revoke                       revoke a token (RFC 7009)
    POST   /marketplace/v1/oauth/introspect                   what a token is (RFC 7662)
    GET    /marketplace/v1/oauth/authorize                    an app asks an operator's consent
    GET    /marketplace/v1/members/{member_id}/learning       a member's records per activity
    GET    /marketplace/v1/members/{member_id}/summary        a member's roll-up
    POST   /marketplace/v1/members/{member_id}/badges         award a badge (idempotent)
    GET    /marketplace/v1/aggregates                         every record, cursor-paged
    GET    /marketplace/v1/export                             the bulk export, streamed
    GET    /marketplace/v1/status                             projection lag, webhook backlog
    GET    /marketplace/v1/webhooks                           subscriptions
    POST   /marketplace/v1/webhooks                           subscribe
    DELETE /marketplace/v1/webhooks/{subscription_id}         unsubscribe
    GET    /marketplace/v1/webhooks/dead-letters              failed deliveries
    POST   /marketplace/v1/webhooks/dead-letters/redeliver    try them again
    GET    /marketplace/v1/admin/audit                        the audit log, newest first, paged
    GET    /marketplace/v1/identities/conflicts               addresses two members claim
    POST   /marketplace/v1/identities/conflicts/resolve       give one to a member
    GET    /marketplace/v1/identities/unmatched               held statements, by identity
    POST   /marketplace/v1/identities/merges                  merge one member into another
    POST   /marketplace/v1/identities/merges/{seq}/undo       undo the merge audited as `seq`
    GET    /marketplace/v1/reconcile/runs                     reconcile runs, the drift SLO
    GET    /metrics                                           the status in Prometheus text, on
                                                              the root app (`metrics_route`)

Modules: `app` (the sub-app factory and the projection's lifetime), `envelope` (the API's
envelope, errors and access checks), `oauth`, `oauth_delegated`, `members`, `records`,
`operations`, `webhooks`, `audit`, `identities`, `identity_merges`, `reconcile` (the handlers,
by resource). The OpenAPI
document is spec/marketplace-openapi.json.
"""

PREFIX = "/marketplace"
