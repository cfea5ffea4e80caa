"""Checks of infra/local/fuzz-openapi, loaded by schemathesis through SCHEMATHESIS_HOOKS.

One check, `positive_data_acceptance_beyond_rules`, stands in for the built-in
`positive_data_acceptance` (which the script excludes). It is the same check with one narrow
exception: a schema-valid request may be answered 422 with the problem type
`/problems/rule-violation`. That type is kept for the rules no schema can state, because they
depend on the state of what the command addresses (checking out an empty cart, adding a product
that is not published, a price in another currency than the product's) or on the caller's role (an
admin must name the vendor of a new product). A value outside its documented bounds is answered
422 `/problems/invalid-value`, which this check, like the built-in one, reports as a finding for a
request the document allows; so does a 400, or any other status the built-in check refuses.
"""

import json

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

RULE_VIOLATION = "/problems/rule-violation"


def _problem_type(response):
    try:
        return json.loads(response.content).get("type")
    except (ValueError, AttributeError):
        return None


@schemathesis.check
def positive_data_acceptance_beyond_rules(ctx, response, case):
    if response.status_code == 422 and _problem_type(response) == RULE_VIOLATION:
        return None
    return positive_data_acceptance(ctx, response, case)
