"""Debian's python3-dkim (dkimpy), an implementation independent of
go-msgauth, for the cross-check in crosscheck_test.go.

usage: dkimpy.py verify MESSAGE-FILE KEY-NAME TXT-RECORD
         verifies the message's signature, answering the key query with the
         TXT record given instead of the DNS; prints "pass" or "fail"
       dkimpy.py sign MESSAGE-FILE DOMAIN SELECTOR PRIVATE-KEY-PEM-FILE
         prints the DKIM-Signature field (rsa-sha256, relaxed/relaxed)"""
import sys

import dkim

cmd, msg = sys.argv[1], open(sys.argv[2], "rb").read()
if cmd == "verify":
    name, record = sys.argv[3].encode(), sys.argv[4].encode()

    def dnsfunc(qname, timeout=5):
        return record if qname.rstrip(b".").lower() == name else None

    print("pass" if dkim.verify(msg, dnsfunc=dnsfunc) else "fail")
elif cmd == "sign":
    key = open(sys.argv[5], "rb").read()
    sig = dkim.sign(msg, sys.argv[4].encode(), sys.argv[3].encode(), key,
                    canonicalize=(b"relaxed", b"relaxed"),
                    include_headers=[b"from", b"to", b"subject", b"date"])
    sys.stdout.buffer.write(sig)
else:
    sys.exit("unknown command " + cmd)
