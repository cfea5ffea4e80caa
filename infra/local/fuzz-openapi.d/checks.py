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

A second one, `negative_data_rejection_as_sent`, stands in for the built-in
`negative_data_rejection` (also excluded by the script) with one narrow exception of its own: in
the stateful phase schemathesis can record a case as negative (an unknown query parameter, a
missing `Authorization` header) that goes out valid, because the configured headers put the token
back and a link's parameters replace the query. Such a request, as sent, breaks nothing; it is let
through only when every recorded mutation is one of those two and the request as sent shows
neither. Any other accepted negative case is still a finding.
"""

import json
from urllib.parse import parse_qsl, urlsplit

import schemathesis
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

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


def _names(value):
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)] if value is not None else []


def _negation_undone_when_sent(response, case):
    """Whether every mutation recorded for `case` is absent from the request as sent."""
    phase = getattr(getattr(case, "meta", None), "phase", None)
    mutations = getattr(getattr(phase, "data", None), "mutations", None) or ()
    request = getattr(response, "request", None)
    if not mutations or request is None:
        return False
    sent_query = {name for name, _ in parse_qsl(urlsplit(request.url).query, keep_blank_values=True)}
    declared_query = {parameter.name for parameter in case.operation.query}
    sent_headers = {name.lower() for name in request.headers}
    for mutation in mutations:
        location = getattr(mutation.parameter_location, "value", mutation.parameter_location)
        keywords = tuple(mutation.keywords)
        if location == "query" and keywords == ("additionalProperties",):
            if not sent_query <= declared_query:
                return False
        elif location == "header" and keywords == ("required",):
            missing = _names(mutation.original_value) or _names(mutation.parameter)
            if not missing or any(name.lower() not in sent_headers for name in missing):
                return False
        else:
            return False
    return True


@schemathesis.check
def negative_data_rejection_as_sent(ctx, response, case):
    if _negation_undone_when_sent(response, case):
        return None
    return negative_data_rejection(ctx, response, case)
