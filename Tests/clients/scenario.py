"""What the stock-client scenarios share: checks that report one line each, and signing up."""
import sys
import uuid

import requests

failures = []


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {detail}"), flush=True)
    if not condition:
        failures.append(name)


def signup(base, name):
    """A new user on the gateway at `base`: (token, id)."""
    email = f"{name.lower()}-{uuid.uuid4().hex[:12]}@py.parley.dev"
    r = requests.post(f"{base}/api/auth/signup", json={
        "firstName": name, "lastName": "Py", "email": email, "password": "password123"}, timeout=10)
    r.raise_for_status()
    body = r.json()
    return body["token"], body["user"]["id"]


def finish(success_line):
    """Prints the verdict and exits non-zero if any check failed."""
    print(f"{len(failures)} failed" if failures else success_line, flush=True)
    sys.exit(1 if failures else 0)
