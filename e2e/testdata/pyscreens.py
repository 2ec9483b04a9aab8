"""The MX's connection and envelope checks, from Python's smtplib (an
independent SMTP client), bound to chosen loopback source addresses.

usage: pyscreens.py HOST:PORT LISTED_SOURCE CLEAN_SOURCE SENDER RECIPIENT
Prints one JSON object with every reply the test checks."""

import json
import smtplib
import sys
import time

host, port = sys.argv[1].rsplit(":", 1)
listed, clean, sender, rcpt = sys.argv[2:6]
out = {}


def connect(source):
    s = smtplib.SMTP(host, int(port), source_address=(source, 0), timeout=30)
    s.ehlo("client.example.org")
    return s


def message(subject):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@py.test>\r\n"
            "Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nhello\r\n") % (
        sender, rcpt, subject, subject.replace(" ", "-"))


# A listed client: MAIL is refused.
s = connect(listed)
code, text = s.mail(sender)
out["listed_mail"] = [code, text.decode()]
s.quit()

# A clean client: greylisted at RCPT, then retried until it passes (the
# server's delay is 2 s; the loop is a hang guard).
s = connect(clean)
s.mail(sender)
code, text = s.rcpt(rcpt)
out["first_rcpt"] = [code, text.decode()]
s.quit()
start = time.monotonic()
retries = 0
while True:
    time.sleep(0.5)
    s = connect(clean)
    s.mail(sender)
    code, text = s.rcpt(rcpt)
    if code == 250:
        code, text = s.data(message("after greylisting"))
        out["retry_data"] = [code, text.decode()]
        s.quit()
        break
    s.quit()
    retries += 1
    if time.monotonic() - start > 20:
        out["retry_data"] = [code, text.decode()]
        break
out["retries"] = retries

# The next message of the triplet is accepted at once.
s = connect(clean)
refused = s.sendmail(sender, [rcpt], message("next message"))
out["next_refused"] = len(refused)
s.quit()
print(json.dumps(out))
