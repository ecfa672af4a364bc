"""The SCORM runtime endpoint over HTTP: a sub-application mounted at /scorm.

    POST /scorm/v1/attempts           HTTP Basic, scope statements/write: open an attempt
                                      session; answers its commit URL (201 new, 200 resumed)
    POST /scorm/v1/commits/{token}    no Authorization (the token is the credential): a commit
                                      in any of the shapes of `scorm_adapter.request_bodies`

Answers are what JavaScript SCORM runtimes take as success or failure: `{"result": true,
"errorCode": 0, ...}`, or `{"result": false, "errorCode": 101, "error": ..., "message": ...}`
with a 4xx status (101 is "General Exception" in both SCORM 1.2 and 2004), plus `element`
when a CMI element is at fault. CORS: the root app's middleware adds Access-Control-Allow-Origin
to every answer and answers preflights (a beacon's `text/plain` needs none). A 401 of the commit
route carries no WWW-Authenticate header, so a browser never pops up a login dialog.

Modules: `app` (the sub-app factory and its service), `attempts` (the two handlers and the
runtimes' answer shape), `redaction` (commit tokens kept out of the logs).
"""

PREFIX = "/scorm"
