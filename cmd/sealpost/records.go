package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strings"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/dkimsign"
)

// recordTTL is the TTL of every published record: an hour, short enough
// to correct a mistake the same day.
const recordTTL = 3600

// zoneRecords returns the DNS records a hosted domain publishes, as lines
// of a BIND zone file (RFC 1035 5): "NAME TTL IN TYPE VALUE" with fully
// qualified names, TXT values split into quoted strings of at most 255
// bytes (RFC 1035 3.3.14), and comments starting with ";". dkim are the
// domain's key records (dkimsign.Records).
func zoneRecords(c config.Config, domain string, dkim []dkimsign.Record) ([]string, error) {
	d, err := dkimsign.DomainName(domain)
	if err != nil {
		return nil, err
	}
	host := strings.TrimSuffix(c.Hostname, ".") + "."
	var out []string
	comment := func(format string, args ...any) { out = append(out, "; "+fmt.Sprintf(format, args...)) }
	rr := func(name, typ, value string) {
		out = append(out, fmt.Sprintf("%s %d IN %s %s", name, recordTTL, typ, value))
	}
	txt := func(name, value string) { rr(name, "TXT", quoteTXT(value)) }

	comment("DNS records for %s (sealpost domain records); %s needs its own A/AAAA records, and a PTR record naming it for each address", d, host)
	rr(d+".", "MX", "10 "+host)

	comment("SPF (RFC 7208): the domain's mail leaves only from the host its MX names; anything else fails")
	if c.Outbound.Relay != "" {
		comment("mail leaves through the relay %s: add the mechanism its operator documents (often include:...) before -all", c.Outbound.Relay)
	}
	txt(d+".", "v=spf1 mx -all")

	comment("DKIM (RFC 6376, RFC 8463): every message is signed with both keys, Ed25519 and RSA")
	for _, k := range dkim {
		if !k.Retiring.IsZero() {
			comment("replaced on %s: keep it published a week after that, then run 'sealpost domain dkim retire %s' and remove it", k.Retiring.Format("2006-01-02"), d)
		}
		txt(k.Selector+"._domainkey."+d+".", k.Value)
	}

	comment("DMARC (RFC 7489): reject mail from the domain that neither SPF nor DKIM authenticates; if other services send as %s, start with p=none.", d)
	comment("Add rua=mailto:ADDRESS (an address that accepts them) to receive aggregate reports.")
	txt("_dmarc."+d+".", "v=DMARC1; p=reject")

	comment("MTA-STS (RFC 8461): the policy is served at https://mta-sts.%s/.well-known/mta-sts.txt, which needs a certificate for that name; id changes with the policy", d)
	txt("_mta-sts."+d+".", "v=STSv1; id="+mtaSTSID(c))
	rr("mta-sts."+d+".", "CNAME", host)
	comment("TLS reporting (RFC 8460): create tlsrpt@%s, or change the address, to receive the reports", d)
	txt("_smtp._tls."+d+".", "v=TLSRPTv1; rua=mailto:tlsrpt@"+d)

	comment("Client configuration (RFC 6186, RFC 8314: implicit TLS preferred); \"0 0 0 .\" means not offered")
	for _, s := range []struct{ service, addr string }{
		{"_submissions._tcp", c.Listen.Submissions},
		{"_imaps._tcp", c.Listen.IMAPS},
		{"_submission._tcp", c.Listen.Submission},
		{"_imap._tcp", c.Listen.IMAP},
	} {
		rr(s.service+"."+d+".", "SRV", srvTarget(s.addr, host))
	}
	comment("ManageSieve (RFC 5804 1.8): where Sieve editors find the filter service")
	rr("_sieve._tcp."+d+".", "SRV", srvTarget(c.Listen.ManageSieve, host))
	comment("Thunderbird's autoconfig (https://autoconfig.%s/mail/config-v1.1.xml) and Outlook's autodiscover", d)
	comment("(https://autodiscover.%s/autodiscover/autodiscover.xml, or the SRV record) are served by the web app, which needs a certificate for those names", d)
	rr("autoconfig."+d+".", "CNAME", host)
	rr("autodiscover."+d+".", "CNAME", host)
	rr("_autodiscover._tcp."+d+".", "SRV", srvTarget(c.Legal.Web, host))

	if strings.Contains(strings.TrimSuffix(host, "."), ".") {
		comment("In the zone of %s: SPF for the server's own name, which bounces (empty MAIL FROM) are checked against (RFC 7208 2.3)", host)
		txt(host, "v=spf1 a -all")
	}
	return out, nil
}

// mtaSTSID is the id of the MTA-STS policy (RFC 8461 3.1: 1 to 32
// alphanumeric characters), derived from everything the policy says, so
// that it changes exactly when the policy does.
func mtaSTSID(c config.Config) string {
	policy := fmt.Sprintf("version: STSv1\nmode: %s\nmx: %s\nmax_age: %d\n",
		c.MTASTS.Mode, strings.TrimSuffix(c.Hostname, "."), int64(c.MTASTS.MaxAge.D().Seconds()))
	sum := sha256.Sum256([]byte(policy))
	return hex.EncodeToString(sum[:10])
}

// srvTarget is the SRV data (RFC 2782) of a service listening on addr at
// host: priority 0, weight 1, the port; or "0 0 0 ." when it is not
// offered (RFC 6186 3.4).
func srvTarget(addr, host string) string {
	_, port, err := net.SplitHostPort(addr)
	if addr == "" || err != nil || port == "0" {
		return "0 0 0 ."
	}
	return "0 1 " + port + " " + host
}

// quoteTXT writes a TXT value as zone-file character strings: quoted,
// at most 255 bytes each, on one line.
func quoteTXT(v string) string {
	var parts []string
	for len(v) > 0 {
		n := min(len(v), 255)
		chunk := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v[:n])
		parts = append(parts, `"`+chunk+`"`)
		v = v[n:]
	}
	if parts == nil {
		return `""`
	}
	return strings.Join(parts, " ")
}
