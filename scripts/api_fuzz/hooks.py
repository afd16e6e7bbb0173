"""Schemathesis hooks for scripts/api_fuzz.sh.

- `no_undocumented_server_error`: a 5xx answer fails unless the operation documents that status
  in the OpenAPI document (the server's own promise, e.g. 503 from a gateway that is off).
- Every answer's status is appended to the file named by IDV_FUZZ_TALLY, one line
  `METHOD PATH STATUS` each, so the script can print the run's figures by status class.
- `ast.parse` gets a second try with more stack headroom and no garbage collection in between:
  hypothesis parses whole source files to describe the lambdas of its strategies, and CPython
  3.11 now and then fails such a parse with `SystemError: AST constructor recursion depth
  mismatch` (python/cpython#106905), which ended runs with a runtime error of the tool (seen on
  unchanged server code too).
"""

import ast
import gc
import os
import sys

import schemathesis

_parse = ast.parse


def _parse_with_headroom(*args, **kwargs):
    try:
        return _parse(*args, **kwargs)
    except (SystemError, RecursionError):
        limit = sys.getrecursionlimit()
        collecting = gc.isenabled()
        sys.setrecursionlimit(limit * 4)
        gc.disable()
        try:
            return _parse(*args, **kwargs)
        finally:
            sys.setrecursionlimit(limit)
            if collecting:
                gc.enable()


ast.parse = _parse_with_headroom

_TALLY = os.environ.get("IDV_FUZZ_TALLY")


def _documented(case):
    raw = getattr(getattr(case.operation, "definition", None), "raw", None) or {}
    return set(str(k) for k in (raw.get("responses") or {}))


@schemathesis.check
def no_undocumented_server_error(ctx, response, case):
    """A 5xx that the operation does not document."""
    status = response.status_code
    if status >= 500 and str(status) not in _documented(case):
        raise AssertionError(
            f"{case.operation.method.upper()} {case.operation.path} answered {status}, "
            f"which it does not document; body: {response.text[:300]!r}"
        )


@schemathesis.hook
def after_call(context, case, response):
    if _TALLY:
        with open(_TALLY, "a", encoding="utf-8") as f:
            f.write(f"{case.operation.method.upper()} {case.operation.path} {response.status_code}\n")
