"""Send one message with Python's smtplib, an SMTP client independent of
go-smtp, for smtpserver's tests.

usage: send.py mx|submission HOST PORT FROM TO[,TO...] MESSAGE_FILE [USER PASSWORD]

submission upgrades with STARTTLS (trusting any certificate: the test
server's is self-signed) and authenticates with AUTH PLAIN.
"""
import smtplib
import ssl
import sys


def main():
    mode, host, port, sender, rcpts, path = sys.argv[1:7]
    with open(path, "rb") as f:
        message = f.read()
    with smtplib.SMTP(host, int(port), local_hostname="python.example", timeout=30) as s:
        s.ehlo()
        if mode == "submission":
            if not s.has_extn("starttls"):
                sys.exit("server does not offer STARTTLS")
            s.starttls(context=ssl._create_unverified_context())
            s.ehlo()
            mechs = s.esmtp_features.get("auth", "").split()
            if "PLAIN" not in mechs:
                sys.exit("server does not offer AUTH PLAIN over TLS: %r" % mechs)
            user, password = sys.argv[7:9]
            s.user, s.password = user, password
            s.auth("PLAIN", s.auth_plain)  # raises unless 235
        refused = s.sendmail(sender, rcpts.split(","), message)
        if refused:
            sys.exit("refused: %r" % refused)
    print("sent")


if __name__ == "__main__":
    main()
