#!/usr/bin/env bash
# run.sh [WORKDIR] — start a private Postfix + Dovecot on 127.0.0.1 only, as
# the baseline Sealpost's benchmarks are compared with. Run as root on
# Debian 12. Stop it with stop.sh WORKDIR. See README.md.
set -euo pipefail

W=${1:-/tmp/sealpost-baseline}
SMTP=127.0.0.1:2526 IMAPS=127.0.0.1:1994 IMAP=127.0.0.1:1144
[ "$(id -u)" = 0 ] || { echo "run.sh: must run as root" >&2; exit 1; }

# 1. Packages. A policy-rc.d that answers 101 keeps the packaged services from
# starting on ports 25/143/993 while apt installs them.
if ! dpkg -s postfix dovecot-imapd dovecot-lmtpd >/dev/null 2>&1; then
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    postfix dovecot-imapd dovecot-lmtpd openssl
fi
# Whatever the packages started (or an earlier install left running): stop it
# and keep it from starting at boot. Only the private instances below run.
if [ -d /run/systemd/system ]; then
  for u in postfix dovecot.socket dovecot; do
    systemctl disable --now "$u" >/dev/null 2>&1 || true
  done
else
  for s in postfix dovecot; do
    service "$s" stop >/dev/null 2>&1 || true
    update-rc.d "$s" disable >/dev/null 2>&1 || true
  done
fi

# 2. Work folder: TLS key, Dovecot config and user, Postfix config and queue.
mkdir -p "$W"/{tls,dovecot/run,dovecot/state,mail,postfix/conf,postfix/queue,postfix/data}
chmod 755 "$W"
if [ ! -s "$W/tls/cert.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=baseline.test \
    -keyout "$W/tls/key.pem" -out "$W/tls/cert.pem" 2>/dev/null
  chmod 600 "$W/tls/key.pem"
fi

# The virtual user; its mail is stored as nobody:nogroup (no system user
# needed). Dovecot 2.3 counts a connection whose two ends share an IP (all of
# loopback) as secured and would take LOGIN without TLS despite ssl=required;
# the passwd-file is named after %{secured}, which is "TLS" only under TLS, so
# authentication fails on any connection that is not TLS. The static userdb
# then needs allow_all_users (LMTP and doveadm look users up without a passdb);
# Postfix only ever hands Dovecot bench@baseline.test.
U=$W/dovecot/users-TLS
# PASS_SCHEME picks how the password is stored: SHA512-CRYPT (the default,
# Debian's), PLAIN, or ARGON2ID with the PHC string in ARGON2ID_HASH
# (scripts/bench-logins.sh makes one of Sealpost's cost).
case "${PASS_SCHEME:-SHA512-CRYPT}" in
  SHA512-CRYPT) H="{SHA512-CRYPT}$(openssl passwd -6 bench-pass)" ;;
  PLAIN) H="{PLAIN}bench-pass" ;;
  ARGON2ID) H="{ARGON2ID}${ARGON2ID_HASH:?ARGON2ID needs ARGON2ID_HASH}" ;;
  *) echo "run.sh: unknown PASS_SCHEME $PASS_SCHEME" >&2; exit 1 ;;
esac
echo "bench@baseline.test:$H" >"$U"
chown root:dovecot "$U"; chmod 640 "$U"
chown nobody:nogroup "$W/mail"

# mail_fsync is left at its default (optimized: fsync before a save is
# acknowledged). No plugins: no sieve, no FTS, no mail_crypt.
cat >"$W/dovecot/dovecot.conf" <<EOF
instance_name = sealpost-baseline
base_dir = $W/dovecot/run
state_dir = $W/dovecot/state
log_path = $W/dovecot/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = required
ssl_cert = <$W/tls/cert.pem
ssl_key = <$W/tls/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT $W/dovecot/users-%{secured}
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$W/mail/%d/%n allow_all_users=yes
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = 1144
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = 1994
    ssl = yes
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0600
    user = postfix
    group = postfix
  }
}
EOF
# DOVECOT_EXTRA is appended as it is (e.g. the login processes'
# high-performance mode, for scripts/bench-logins.sh).
printf '%s\n' "${DOVECOT_EXTRA:-}" >>"$W/dovecot/dovecot.conf"

P=$W/postfix
# The services every private Postfix here runs, none chrooted; smtpd on loopback.
{ echo "$SMTP inet n - n - - smtpd"; cat "$(dirname "$0")/../../internal/testenv/postfix-master.cf"; } >"$P/conf/master.cf"
# Defaults everywhere else: queue files are fsynced, no content_filter, no milters.
cat >"$P/conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $P/queue
data_directory = $P/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $P/postfix.log
maillog_file_prefixes = $P
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.baseline.test
mydestination =
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
smtpd_banner = \$myhostname ESMTP
virtual_mailbox_domains = baseline.test
virtual_mailbox_maps = inline:{ bench@baseline.test=ok }
virtual_transport = lmtp:unix:$W/dovecot/run/lmtp
EOF
chown root:root "$P/queue"; chmod 755 "$P/queue"
chown postfix:postfix "$P/data"

# 3. Start (after stopping an earlier run), and wait for the ports and the
# LMTP socket. The daemons' output goes to a file: they keep it open.
"$(dirname "$0")/stop.sh" "$W" >/dev/null
postfix -c "$P/conf" check || { echo "run.sh: postfix check failed, see $P/postfix.log" >&2; exit 1; }
if ! { dovecot -c "$W/dovecot/dovecot.conf" && postfix -c "$P/conf" start; } \
    </dev/null >"$W/start.log" 2>&1; then
  cat "$W/start.log" >&2; exit 1
fi
for a in "$SMTP" "$IMAPS" "$IMAP"; do
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/${a%:*}/${a#*:}") 2>/dev/null && continue 2
    sleep 0.1
  done
  echo "run.sh: $a not listening; see $W/dovecot/dovecot.log $P/postfix.log" >&2
  exit 1
done
[ -S "$W/dovecot/run/lmtp" ] || { echo "run.sh: no LMTP socket" >&2; exit 1; }

cat <<EOF
baseline up (work folder $W)
  SMTP  $SMTP  Postfix $(postconf -c "$P/conf" -h mail_version), MX-style, domain baseline.test
  IMAPS $IMAPS  Dovecot $(dovecot --version | cut -d' ' -f1), self-signed cert
  IMAP  $IMAP  (STARTTLS required before LOGIN)
  LMTP  unix:$W/dovecot/run/lmtp
  user  bench@baseline.test / bench-pass, Maildir $W/mail/baseline.test/bench/Maildir
EOF
