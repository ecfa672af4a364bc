"""The LTI adapter's HTTP side: a sub-application mounted at /lti (`lti.http.app`).

Routes (the OpenAPI document is spec/lti-openapi.json):
    GET    /lti/jwks                                   the platform's public keys (JWK Set)
    POST   /lti/token                                  OAuth 2.0 client credentials + JWT assertion
    GET    /lti/tools/{tool}/lineitems                 AGS line items container (paged)
    POST   /lti/tools/{tool}/lineitems                 create a line item
    GET    /lti/tools/{tool}/lineitems/{item}          one line item
    PUT    /lti/tools/{tool}/lineitems/{item}          replace it
    DELETE /lti/tools/{tool}/lineitems/{item}          delete it
    POST   /lti/tools/{tool}/lineitems/{item}/scores   post a score
    GET    /lti/tools/{tool}/lineitems/{item}/results  results container (paged)
    POST   /lti/1.1/outcomes                           LTI 1.1 Basic Outcomes (POX)
    POST   /lti/1.1/sourcedids                         mint a sourcedId (HTTP Basic credential)

Modules: `app` (the sub-app factory and its services), `token` (JWKS and token endpoint),
`ags` (line items, scores, results), `outcomes` (LTI 1.1 Basic Outcomes, sourcedIds).
"""

PREFIX = "/lti"
