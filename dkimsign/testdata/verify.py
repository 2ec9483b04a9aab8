# Verifies every DKIM signature of a message with dkimpy (Debian's
# python3-dkim), an implementation independent of go-msgauth.
# Usage: verify.py MESSAGE RECORDS.json, where RECORDS maps each
# "selector._domainkey.domain." to its TXT value. Prints one JSON object a
# signature: its selector, algorithm, and whether it verified.
import json
import sys

import dkim

msg = open(sys.argv[1], "rb").read()
records = json.load(open(sys.argv[2]))


def dnsfunc(name, timeout=5):
    value = records.get(name.decode() if isinstance(name, bytes) else name)
    return value.encode() if value is not None else None


d = dkim.DKIM(msg)
n = sum(1 for k, _ in d.headers if k.lower() == b"dkim-signature")
for i in range(n):
    try:
        ok = bool(d.verify(idx=i, dnsfunc=dnsfunc))
        err = ""
    except dkim.DKIMException as e:
        ok, err = False, str(e)
    print(json.dumps({
        "selector": d.signature_fields.get(b"s", b"").decode(),
        "algorithm": d.signature_fields.get(b"a", b"").decode(),
        "ok": ok,
        "error": err,
    }))
