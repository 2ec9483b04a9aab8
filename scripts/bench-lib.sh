# bench-lib.sh, sourced by bench-inbound.sh, bench-filters.sh and
# bench-cost.sh: the sender's DNS, and what a "filtered" round gives bob on
# the demo, as a user would.

# bench_dns SEALPOST ADDR DIR makes a 2048-bit RSA DKIM key in DIR/dkim.pem
# and serves, with `sealpost bench dns` on ADDR (in the background, its pid
# added to the caller's pids), bench.test's SPF (ip4:127.0.0.0/8), DMARC
# (p=reject) and that key at s1._domainkey; it returns once the server
# answers.
bench_dns() {
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$3/dkim.pem" 2>/dev/null
  local p
  p=$(openssl pkey -in "$3/dkim.pem" -pubout -outform DER | base64 -w0)
  "$1" bench dns --addr "$2" \
    --rr 'bench.test. 300 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"' \
    --rr '_dmarc.bench.test. 300 IN TXT "v=DMARC1; p=reject"' \
    --txt "s1._domainkey.bench.test=v=DKIM1; k=rsa; p=$p" >"$3/dns.out" & pids+=($!)
  for _ in $(seq 100); do grep -q '^dns ' "$3/dns.out" 2>/dev/null && break; sleep 0.1; done
}

# filter_rules FILE writes the 50 rules of postbox's BenchmarkDeliverFilters:
# lists, vendors, tickets, +detail tags and a spam-level rule; bench mail
# matches none, so every test runs for every message.
filter_rules() {
  {
    echo 'require ["fileinto", "envelope", "subaddress", "imap4flags", "relational", "comparator-i;ascii-numeric", "mailbox"];'
    for i in $(seq 0 14); do echo "if header :contains \"list-id\" \"list$i.lists.example.org\" { fileinto :create \"Lists/$i\"; stop; }"; done
    for i in $(seq 0 14); do echo "if address :is :domain \"from\" \"vendor$i.example.com\" { fileinto :create \"Vendors/$i\"; stop; }"; done
    for i in $(seq 0 9); do echo "if header :matches \"subject\" \"*[ticket-$i*]*\" { addflag \"\$Ticket\"; fileinto :create \"Tickets\"; stop; }"; done
    for i in $(seq 0 4); do echo "if envelope :detail \"to\" \"tag$i\" { fileinto :create \"Tags/$i\"; stop; }"; done
    for i in $(seq 0 4); do echo "if header :value \"ge\" :comparator \"i;ascii-numeric\" \"x-spam-level\" \"$((10+i))\" { fileinto \"Junk\"; stop; }"; done
  } >"$1"
  [ "$(grep -c '^if ' "$1")" = 50 ] || { echo "bench-lib.sh: not 50 rules" >&2; exit 1; }
}

sieve() { echo bob-demo-pass | sieve-connect --server 127.0.0.1 --port 4190 --user bob@demo.example --passwordfd 0 --notlsverify "$@"; }

# train: bob's classifier learns 60 spam and 60 ham through IMAP.
train() {
  python3 - <<'PY'
import imaplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = imaplib.IMAP4_SSL("127.0.0.1", 1993, ssl_context=ctx)
c.login("bob@demo.example", "bob-demo-pass")
words = "the quarterly numbers show growth in every region and the team will meet on monday to review budget plans".split()
for i in range(60):
    body = " ".join(words[(i + j) % len(words)] for j in range(200))
    c.append("INBOX", None, None, ("From: colleague%d@example.net\r\nSubject: report %d\r\n\r\n%s\r\n" % (i, i, body)).encode())
    c.append("Archive", None, None, ("From: win%d@prizes.example\r\nSubject: you won %d\r\n\r\ncheap pills casino winner prize claim now %d\r\n" % (i, i, i)).encode())
c.select("INBOX"); c.store("1:*", "+FLAGS", "($NotJunk)")
c.select("Archive"); c.uid("MOVE", "1:*", "Junk")
c.logout()
PY
}
