"""A check for the second schemathesis run of .ci/schemathesis.sh: with another app's token,
every operation must refuse (no 2xx answer)."""

import schemathesis


@schemathesis.check
def refused_for_a_foreign_token(ctx, response, case):
    if 200 <= response.status_code < 300:
        raise AssertionError(
            f"{case.method} {case.formatted_path} answered {response.status_code} "
            "to another app's token"
        )
