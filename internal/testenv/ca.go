package testenv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a throwaway certificate authority, for tests of certificate checks
// (MTA-STS's WebPKI check, DANE-TA): Pool trusts it, Issue makes leaves.
type CA struct {
	Cert *x509.Certificate
	Pool *x509.CertPool
	key  crypto.Signer
}

// NewCA makes a CA valid from an hour ago for a day.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "sealpost test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	cert := createCert(t, tmpl, tmpl, key, key)
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return &CA{Cert: cert.Leaf, Pool: pool, key: key}
}

// Issue returns a server certificate signed by ca for names (DNS names; the
// first is also the subject's common name), valid until notAfter (zero:
// for a day); its chain is the leaf then ca's certificate.
func (ca *CA) Issue(t testing.TB, notAfter time.Time, names ...string) tls.Certificate {
	t.Helper()
	c := createCert(t, leafTemplate(notAfter, names), ca.Cert, newKey(t), ca.key)
	c.Certificate = append(c.Certificate, ca.Cert.Raw)
	return c
}

// SelfSigned returns a self-signed server certificate for names, valid
// until notAfter (zero: for a day), such as DANE-EE records pin.
func SelfSigned(t testing.TB, notAfter time.Time, names ...string) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := leafTemplate(notAfter, names)
	return createCert(t, tmpl, tmpl, key, key)
}

func leafTemplate(notAfter time.Time, names []string) *x509.Certificate {
	if notAfter.IsZero() {
		notAfter = time.Now().Add(24 * time.Hour)
	}
	notBefore := time.Now().Add(-time.Hour)
	if notAfter.Before(notBefore) {
		notBefore = notAfter.Add(-time.Hour)
	}
	tmpl := &x509.Certificate{
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		DNSNames:    names,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if len(names) > 0 {
		tmpl.Subject.CommonName = names[0]
	}
	return tmpl
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// createCert signs tmpl (given a random serial) with signer under parent.
func createCert(t testing.TB, tmpl, parent *x509.Certificate, key *ecdsa.PrivateKey, signer crypto.Signer) tls.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// WritePEMPair writes cert's chain and key as PEM files, each replaced as
// an operator's tool would: a new file renamed over the old.
func WritePEMPair(t testing.TB, cert tls.Certificate, certFile, keyFile string) {
	t.Helper()
	var chain []byte
	for _, der := range cert.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	ReplaceFile(t, certFile, chain)
	ReplaceFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}))
}

// ReplaceFile replaces name's content with a new file renamed over it.
func ReplaceFile(t testing.TB, name string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".new")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
}
