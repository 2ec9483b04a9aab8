#!/usr/bin/env python3
"""soak_attack.py MX_ADDR SUBMISSION_ADDR IMAPS_ADDR WEB_ADDR SECONDS: the attacker mix of
scripts/soak.sh, from loopback addresses other than 127.0.0.1, with the
standard library's own clients and raw sockets:

  127.0.0.2  wrong-password floods: 20 IMAP (TLS) and 10 submission
             (STARTTLS, AUTH) connections, back to back, on a real account and on unknown ones
  127.0.0.3  slow clients: IMAP, SMTP and HTTP requests sent a byte every 2 s
  127.0.0.4-7 idle connections: 50 per address on each port, held open
             (reopened when the server closes them)
  127.0.0.8  oversized DATA: 4 senders of 100 MiB messages, over the limit
  127.0.0.9  recipient probing: RCPT TO unknown names on the MX

SOAK_SKIP (comma-separated: flood, slow, idle, oversized, probe) leaves
parts out, to see what each costs. Prints one line of counts at the end. Never exits early on the server's
refusals: those are what it measures.
"""

import imaplib
import random
import smtplib
import socket
import ssl
import sys
import threading
import time

smtp_addr, submission_addr, imaps_addr, web_addr = sys.argv[1:5]
seconds = float(sys.argv[5])
deadline = time.time() + seconds
counts = {}
lock = threading.Lock()


def count(what):
    with lock:
        counts[what] = counts.get(what, 0) + 1


def hostport(a):
    h, p = a.rsplit(":", 1)
    return h, int(p)


CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


class IMAPFrom(imaplib.IMAP4_SSL):
    """IMAP4_SSL from a chosen source address."""

    def __init__(self, src, addr):
        self.src = src
        h, p = hostport(addr)
        super().__init__(h, p, ssl_context=CTX, timeout=30)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout, source_address=(self.src, 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def running():
    return time.time() < deadline


def imap_flood():
    while running():
        try:
            c = IMAPFrom("127.0.0.2", imaps_addr)
            user = random.choice(["alice@soak.test", "nobody%d@soak.test" % random.randint(0, 999)])
            try:
                c.login(user, "wrong-%d" % random.randint(0, 1 << 30))
                count("imap login succeeded (!)")
            except imaplib.IMAP4.error:
                count("imap wrong password refused")
            c.shutdown()
        except (OSError, imaplib.IMAP4.abort, ssl.SSLError):
            count("imap connection refused or dropped")
            time.sleep(0.2)


def smtp_flood():
    h, p = hostport(submission_addr)
    while running():
        try:
            c = smtplib.SMTP(h, p, source_address=("127.0.0.2", 0), timeout=30)
            c.ehlo("attacker.test")
            c.starttls(context=CTX)
            c.ehlo("attacker.test")
            try:
                c.login("alice@soak.test", "wrong")
                count("smtp auth succeeded (!)")
            except smtplib.SMTPException:
                count("smtp auth refused")
            c.close()
        except (OSError, smtplib.SMTPException):
            count("smtp connection refused or dropped")
            time.sleep(0.2)


def slow(addr, payload):
    h, p = hostport(addr)
    while running():
        try:
            s = socket.create_connection((h, p), 10, source_address=("127.0.0.3", 0))
            for b in payload:
                if not running():
                    break
                s.sendall(bytes([b]))
                time.sleep(2)
            count("slow client finished (!)")
        except OSError:
            count("slow client cut")
        time.sleep(0.5)


def idle(src, addr):
    h, p = hostport(addr)
    conns = []
    while running():
        conns = [c for c in conns if alive(c)]
        while len(conns) < 50 and running():
            try:
                conns.append(socket.create_connection((h, p), 10, source_address=(src, 0)))
                count("idle connection opened")
            except OSError:
                count("idle connection refused")
                break
        time.sleep(1)
    for c in conns:
        c.close()


def alive(c):
    c.setblocking(False)
    try:
        d = c.recv(4096)
        if d == b"":
            c.close()
            return False
    except BlockingIOError:
        pass
    except OSError:
        c.close()
        return False
    return True


def oversized():
    h, p = hostport(smtp_addr)
    body = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (100 * 1024)
    while running():
        try:
            c = smtplib.SMTP(h, p, source_address=("127.0.0.8", 0), timeout=60)
            c.ehlo("big.test")
            # No SIZE= on MAIL (as a hostile sender would not say): the
            # server reads the data until it is over the limit.
            c.mail("big@big.test")
            c.rcpt("bob@soak.test")
            code, _ = c.data(body)  # data() returns the final reply, it does not raise
            count("oversized accepted (!)" if code == 250 else "oversized refused %d" % code)
            c.close()
        except smtplib.SMTPResponseException as e:
            count("oversized refused %d" % e.smtp_code)
        except (OSError, smtplib.SMTPException):
            count("oversized connection dropped")
        time.sleep(0.5)


def probe():
    h, p = hostport(smtp_addr)
    while running():
        try:
            c = smtplib.SMTP(h, p, source_address=("127.0.0.9", 0), timeout=60)
            c.ehlo("probe.test")
            c.mail("probe@probe.test")
            for _ in range(20):
                if not running():
                    break
                code, _ = c.rcpt("guess%d@soak.test" % random.randint(0, 1 << 30))
                count("probe rcpt %d" % code)
            c.close()
        except (OSError, smtplib.SMTPException):
            count("probe connection dropped")
            time.sleep(0.5)


import os

skip = set(filter(None, os.environ.get("SOAK_SKIP", "").split(",")))
threads = []
for _ in range(20):
    threads.append(threading.Thread(target=imap_flood))
for _ in range(10):
    threads.append(threading.Thread(target=smtp_flood))
threads.append(threading.Thread(target=slow, args=(imaps_addr, b"\x16\x03\x01" + b"x" * 200)))
threads.append(threading.Thread(target=slow, args=(smtp_addr, b"EHLO slow.test\r\nMAIL FROM:<a@b.c>\r\n")))
threads.append(threading.Thread(target=slow, args=(web_addr, b"POST /me/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"a" * 100)))
for i in range(4, 8):
    for a in (smtp_addr, imaps_addr, web_addr):
        threads.append(threading.Thread(target=idle, args=("127.0.0.%d" % i, a)))
for _ in range(4):
    threads.append(threading.Thread(target=oversized))
threads.append(threading.Thread(target=probe))
part = {imap_flood: "flood", smtp_flood: "flood", slow: "slow", idle: "idle", oversized: "oversized", probe: "probe"}
threads = [t for t in threads if part[t._target] not in skip]
for t in threads:
    t.daemon = True
    t.start()
for t in threads:
    t.join(max(0.1, deadline - time.time() + 90))
print("attacks: " + "; ".join("%s %d" % kv for kv in sorted(counts.items())))
