# Schemathesis hooks for the API contract run (scripts/api-contract/run.sh).
#
# Schemathesis' positive_data_acceptance check expects every schema-valid request to be
# accepted. A JSON schema cannot say that a uuid must name an existing record, that a
# password must be the right one, or that a cursor must be one the server handed out, so a
# 422 is the right answer to those requests. This check is positive_data_acceptance with
# exactly that exception: a 422 passes only when every error it reports is one of the
# state-dependent codes below. A 422 for anything the document could have said (a length, a
# pattern, a required field, a choice) still fails the run. A few codes are rules about values
# that a schema cannot state either (checksums, uniqueness, relations between items); each is
# named with its reason.
import json

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance as builtin

# Error codes that depend on what is stored, not on the request's shape.
STATE_CODES = {
    # a backup target's secret is required only while none is stored; which fields it needs
    # or may have, and which endpoint scheme, depends on its kind (s3 or sftp)
    "secret_required",
    "required_for_kind",
    "not_applicable",
    "endpoint_kind_mismatch",
    # an SSH key's contents: the document gives their form, not whether they parse
    "invalid_host_key",
    "invalid_private_key",
    # an id in the body that names no record the caller can see (or the wrong kind of record)
    "invalid_reference",
    # a cursor is an opaque token only the server can mint
    "invalid_cursor",
    # re-authentication with a password that is not the caller's
    "wrong_password",
    # confirming TOTP before enrolment started
    "no_enrolment",
    # emailing a contact that has no email address
    "no_email",
    # a unique value another record already holds (a product code)
    "duplicate_code",
    # a time that must lie in the future when the request arrives
    "in_the_past",
    # validity beyond a pattern: a phone number's numbering plan, the check character of a
    # credit code or an ID number
    "invalid_phone",
    "invalid_credit_code",
    "invalid_id_number",
    # an item repeated in a list whose items are identified by one property (uniqueItems
    # compares whole items), or a record both survivor and merged
    "repeated",
    # the built-in picklists whose values are fixed: which values depends on the list named in
    # the path
    "locked_picklist",
    # an end before its start (two fields compared)
    "before_start",
    # the record an activity is logged on does not exist or cannot be seen
    "not_found",
    # a manager named by an email no user has
    "unknown_user",
    # a role key no role has (administrators create roles)
    "unknown_role",
    # an uploaded file whose content is not a readable CSV, workbook or vCard (the schema can
    # only say "bytes")
    "invalid_file",
    "no_vcards",
    # a picklist value the installation does not have (administrators edit the lists)
    "not_in_picklist",
    # a custom field key (cf_…) no definition has: administrators define custom fields, so
    # the document can give their keys' pattern but not which keys exist
    "unknown_custom_field",
}


def _codes(response):
    try:
        body = json.loads(response.content)
    except (ValueError, TypeError):
        return None
    if not isinstance(body, dict):
        return None
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        return {e.get("code") for e in errors if isinstance(e, dict)}
    return {body.get("code")}


@schemathesis.check
def positive_data_acceptance_with_state(ctx, response, case):
    try:
        return builtin(ctx, response, case)
    except RejectedPositiveData:
        codes = _codes(response)
        if response.status_code == 422 and codes and codes <= STATE_CODES:
            return None
        raise
