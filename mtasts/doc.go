// Package mtasts owns MTA-STS (RFC 8461) for Sealpost: the policies other
// domains publish, which outbound delivery must obey, and the text of the
// policy Sealpost publishes for its own hosted domains.
//
// A domain announces a policy with a TXT record at _mta-sts.DOMAIN
// ("v=STSv1; id=..."), and serves it at
// https://mta-sts.DOMAIN/.well-known/mta-sts.txt. A Cache finds, fetches,
// keeps and persists them: one per process, opened on a file under the
// data folder, so that a restart keeps enforcing every policy it has seen.
//
// # What the delivery code does with it
//
// For each message to a domain, before connecting:
//
//	pol, err := cache.Get(ctx, domain)
//
// An error is Unavailable (DNS gave no answer and nothing is cached): defer
// the message. pol is nil when the domain has no policy (or its TXT record
// exists but the policy could not be fetched and none is cached: RFC 8461
// 3.3 says to deliver as without one). Then, for each MX host in preference
// order:
//
//  1. If pol.Enforced() and !pol.Match(host), skip the host (RFC 8461 4.1).
//  2. After EHLO, if pol.Enforced() and the host offers no STARTTLS, skip
//     it. Never send in plaintext to a domain with an enforced policy.
//  3. Start TLS with pol.TLSConfig(base, host), where base is the
//     opportunistic configuration (InsecureSkipVerify, as without any
//     policy; dane's Policy.TLSConfig may wrap the result). In enforce mode
//     the handshake fails unless the certificate is valid for host under
//     WebPKI (VerifyWebPKI); then skip the host — do not retry it without
//     TLS.
//  4. In testing mode, deliver as without a policy; a failure of step 1 or
//     of VerifyWebPKI is only logged (TLS-RPT reports are not sent yet).
//
// When every host was skipped, defer the message (4xx), never bounce it
// for the policy's sake without calling Get again first: it looks up the
// TXT record and fetches a new policy if the id changed (RFC 8461 5.1). A
// host skipped for the policy is never tried without TLS.
//
// Where DANE applies to a host too (package dane), both checks run on the
// same connection: an MTA-STS policy never overrides a failed DANE
// verification (RFC 8461 2), and an enforced policy still requires a
// WebPKI-valid certificate.
//
// # Our own policy
//
// PolicyText makes the policy file the web app serves for every hosted
// domain at mta-sts.DOMAIN; TXTRecord (PolicyID) the _mta-sts record
// announcing it.
package mtasts
