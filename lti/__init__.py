"""LTI grade passback → xAPI statements: LTI 1.3 Assignment and Grade Services (platform side)
and LTI 1.1 Basic Outcomes. Scores reach the statement store only through the LRS's one write
path (`lrs.services.statements.StatementService.store_statements`)."""
