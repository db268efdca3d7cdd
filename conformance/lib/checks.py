"""PASS/FAIL check lines for the Python client scripts under conformance/ (one line per check,
read by run-clients.sh and compared with the baseline).

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from checks import CheckFailed, attempt, check, failures

`check` raises CheckFailed on the first FAIL unless KEEP_GOING is set in the environment.
"""

import os

from botocore.exceptions import ClientError

KEEP_GOING = bool(os.environ.get("KEEP_GOING"))
_failed = 0


class CheckFailed(Exception):
    pass


def failures():
    """How many checks failed so far."""
    return _failed


def check(name, cond, why=""):
    global _failed
    if cond:
        print(f"PASS {name}", flush=True)
        return True
    print(f"FAIL {name}{': ' + why if why else ''}", flush=True)
    _failed += 1
    if not KEEP_GOING:
        raise CheckFailed(name)
    return False


def attempt(name, fn):
    """Runs fn(); a raised exception is a FAIL of `name`. Returns fn's value or None."""
    try:
        value = fn()
    except ClientError as e:
        check(name, False, f"{e.response['Error'].get('Code')}: {e}")
        return None
    except Exception as e:  # any client-side failure is this check's failure
        check(name, False, f"{type(e).__name__}: {e}")
        return None
    check(name, True)
    return value
