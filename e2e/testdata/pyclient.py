"""An independent client for Sealpost's end-to-end test: Python's smtplib and
imaplib against the demo. Prints one JSON object with what it saw; the Go
test asserts on it."""
import imaplib, json, smtplib, ssl, sys

smtp_addr, sub_addr, imaps_addr, marker = sys.argv[1:5]
host = lambda a: (a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1]))
ctx = ssl._create_unverified_context()   # the demo's certificate is self-signed
out = {}

raw = ("From: py@example.org\r\nTo: bob@demo.example\r\nSubject: from python %s\r\n"
       "Message-ID: <py-%s@example.org>\r\n\r\nPython says hello %s\r\n" % (marker, marker, marker)).encode()

# MX delivery.
s = smtplib.SMTP(*host(smtp_addr))
out["ehlo"] = s.ehlo()[0]
out["mx_exts"] = sorted(k for k in s.esmtp_features)
s.sendmail("py@example.org", ["bob@demo.example"], raw)
try:
    s.sendmail("py@example.org", ["nobody@demo.example"], raw)
    out["unknown_rcpt"] = "accepted"
except smtplib.SMTPRecipientsRefused as e:
    out["unknown_rcpt"] = list(e.recipients.values())[0][0]
try:
    s.sendmail("py@example.org", ["someone@elsewhere.example"], raw)
    out["relay"] = "accepted"
except smtplib.SMTPRecipientsRefused as e:
    out["relay"] = list(e.recipients.values())[0][0]
s.quit()

# Submission with STARTTLS and AUTH PLAIN.
s = smtplib.SMTP(*host(sub_addr))
s.ehlo()
try:
    s.login("alice@demo.example", "alice-demo-pass")
    out["auth_before_tls"] = "accepted"
except smtplib.SMTPException as e:
    out["auth_before_tls"] = "refused"
s.starttls(context=ctx)
s.ehlo()
s.login("alice@demo.example", "alice-demo-pass")
s.sendmail("alice@demo.example", ["bob@demo.example"],
           b"From: alice@demo.example\r\nTo: bob@demo.example\r\nSubject: sub " + marker.encode() + b"\r\n\r\nvia submission\r\n")
s.quit()

# IMAP.
m = imaplib.IMAP4_SSL(*host(imaps_addr), ssl_context=ctx)
m.login("bob@demo.example", "bob-demo-pass")
typ, boxes = m.list()
out["list"] = [b.decode() for b in boxes]
typ, data = m.select("INBOX")
out["exists"] = int(data[0])
typ, data = m.uid("SEARCH", None, "BODY", '"Python says hello %s"' % marker)
uids = data[0].split()
out["search_body"] = len(uids)
typ, data = m.uid("FETCH", uids[0], "(RFC822 FLAGS)")
parts = [d for d in data if isinstance(d, tuple)]
if not parts:
    sys.exit("FETCH RFC822 returned no literal: %r" % (data,))
fetched = parts[0][1]
# The MX prepends its Authentication-Results: (DMARC passed: example.org's
# SPF authorizes loopback), then Received:, to the bytes sent.
out["fetched_equal"] = (fetched.endswith(raw) and fetched.startswith(b"Authentication-Results: ")
                        and b"dmarc=pass header.from=example.org" in fetched and b"\r\nReceived: " in fetched)
typ, data = m.uid("FETCH", uids[0], "(FLAGS)")
out["seen_after_fetch"] = b"\\Seen" in data[0]
m.uid("STORE", uids[0], "+FLAGS", "(\\Flagged)")
typ, data = m.uid("SEARCH", None, "FLAGGED")
out["search_flagged"] = len(data[0].split())
typ, data = m.uid("COPY", uids[0], "Archive")
out["copy"] = typ
m.uid("STORE", uids[0], "+FLAGS", "(\\Deleted)")
m.expunge()
typ, data = m.uid("SEARCH", None, "ALL")
out["after_expunge"] = len(data[0].split())
typ, data = m.status("Archive", "(MESSAGES UIDNEXT UIDVALIDITY)")
out["archive_status"] = data[0].decode()
m.logout()
print(json.dumps(out))
