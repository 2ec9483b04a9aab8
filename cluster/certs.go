package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// The files of a deployment CA folder.
const (
	CACertFile = "ca.crt" // the CA certificate, PEM; every node needs a copy
	CAKeyFile  = "ca.key" // the CA private key, PEM PKCS #8, mode 0600
)

// Validity of the certificates made here.
const (
	caValidity   = 20 * 365 * 24 * time.Hour
	nodeValidity = 5 * 365 * 24 * time.Hour
)

// NewCA creates a deployment certificate authority in dir (made with mode
// 0700 if missing): an ECDSA P-256 key in CAKeyFile (mode 0600) and a
// self-signed CA certificate in CACertFile that can sign only end-entity
// certificates (path length 0). It is an Exist error if either file is
// already there: a deployment has one CA, made once.
func NewCA(dir string) error {
	const op = "cluster.NewCA"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return errors.E(op, errors.Internal, err)
	}
	for _, f := range []string{CACertFile, CAKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return errors.E(op, errors.Exist, errors.Errorf("%s already exists", filepath.Join(dir, f)))
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return errors.E(op, errors.Internal, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Sealpost deployment CA", Organization: []string{"Sealpost"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return errors.E(op, errors.Internal, err)
	}
	if err := writeKey(filepath.Join(dir, CAKeyFile), key); err != nil {
		return errors.E(op, err)
	}
	if err := writeNew(filepath.Join(dir, CACertFile), pemBlock("CERTIFICATE", der), 0o644); err != nil {
		return errors.E(op, err)
	}
	return nil
}

// IssueNode issues a certificate to a node of the deployment with the CA in
// caDir, and writes it and its new ECDSA P-256 key to caDir as name.crt and
// name.key (mode 0600). The certificate's common name and first DNS name
// are name (e.g. "frontdoor", "region-ie"), which peers check; hosts adds
// further names, each an IP address or a DNS name, by which the node is
// dialled. It serves for both TLS server and client authentication, since
// nodes are both. The files are then copied, with CACertFile, to the node.
//
// name must be a DNS label (lower-case letters, digits and '-') other than
// "ca". It is an Exist error if the files are already there.
func IssueNode(caDir, name string, hosts ...string) (certFile, keyFile string, err error) {
	const op = "cluster.IssueNode"
	if !validNodeName(name) {
		return "", "", errors.E(op, errors.Invalid, errors.Errorf("bad node name %q: want a lower-case DNS label", name))
	}
	certFile, keyFile = filepath.Join(caDir, name+".crt"), filepath.Join(caDir, name+".key")
	for _, f := range []string{certFile, keyFile} {
		if _, err := os.Stat(f); err == nil {
			return "", "", errors.E(op, errors.Exist, errors.Errorf("%s already exists", f))
		}
	}
	ca, err := tls.LoadX509KeyPair(filepath.Join(caDir, CACertFile), filepath.Join(caDir, CAKeyFile))
	if err != nil {
		return "", "", errors.E(op, errors.NotExist, err)
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		return "", "", errors.E(op, errors.Invalid, err)
	}
	if !caCert.IsCA {
		return "", "", errors.E(op, errors.Invalid, errors.Str("CA certificate is not a CA"))
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", errors.E(op, errors.Internal, err)
	}
	now := time.Now()
	notAfter := now.Add(nodeValidity)
	if caCert.NotAfter.Before(notAfter) {
		notAfter = caCert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"Sealpost"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{name},
	}
	for _, h := range hosts {
		switch ip := net.ParseIP(h); {
		case ip != nil:
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		case h != "" && h != name:
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, ca.PrivateKey)
	if err != nil {
		return "", "", errors.E(op, errors.Internal, err)
	}
	if err := writeKey(keyFile, key); err != nil {
		return "", "", errors.E(op, err)
	}
	if err := writeNew(certFile, pemBlock("CERTIFICATE", der), 0o644); err != nil {
		return "", "", errors.E(op, err)
	}
	return certFile, keyFile, nil
}

// LoadServerTLS returns the TLS configuration of a node's internal
// listener: it presents the node's certificate, requires every client to
// present one issued by the deployment CA (and no other authority), speaks
// TLS 1.3 only, and offers the Mux's protocols by ALPN.
func LoadServerTLS(caCertFile, certFile, keyFile string) (*tls.Config, error) {
	const op = "cluster.LoadServerTLS"
	pool, cert, err := load(caCertFile, certFile, keyFile)
	if err != nil {
		return nil, errors.E(op, err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
		NextProtos:   append([]string(nil), protocols...),
	}, nil
}

// LoadClientTLS returns the TLS configuration with which a node dials
// another: it presents the node's certificate and accepts only a server
// certificate issued by the deployment CA for serverName (e.g.
// "region-ie"), over TLS 1.3. Dial sets the ALPN protocol.
func LoadClientTLS(caCertFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	const op = "cluster.LoadClientTLS"
	if serverName == "" {
		return nil, errors.E(op, errors.Invalid, errors.Str("no server name"))
	}
	pool, cert, err := load(caCertFile, certFile, keyFile)
	if err != nil {
		return nil, errors.E(op, err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   serverName,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// load reads the CA certificate into a pool of its own and the node's key
// pair.
func load(caCertFile, certFile, keyFile string) (*x509.CertPool, tls.Certificate, error) {
	data, err := os.ReadFile(caCertFile)
	if err != nil {
		return nil, tls.Certificate{}, errors.E(errors.NotExist, err)
	}
	pool := x509.NewCertPool()
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, tls.Certificate{}, errors.E(errors.Invalid, err)
		}
		if !c.IsCA {
			return nil, tls.Certificate{}, errors.E(errors.Invalid, errors.Errorf("%s: not a CA certificate", caCertFile))
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, tls.Certificate{}, errors.E(errors.Invalid, errors.Errorf("%s: no certificate", caCertFile))
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, tls.Certificate{}, errors.E(errors.Invalid, err)
	}
	return pool, cert, nil
}

// validNodeName reports whether name is a lower-case DNS label usable as a
// file name, and not the CA's.
func validNodeName(name string) bool {
	if name == "" || len(name) > 63 || name == "ca" || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// serial returns a random 128-bit certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n.Add(n, big.NewInt(1))
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	return writeNew(path, pemBlock("PRIVATE KEY", der), 0o600)
}

// writeNew writes a new file durably with the given mode: a temporary file
// in the same folder, synced, then linked to its name, which fails if the
// name exists, so that an existing key is never replaced.
func writeNew(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return errors.E(errors.Internal, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return errors.E(errors.Internal, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return errors.E(errors.Internal, err)
	}
	if err := f.Close(); err != nil {
		return errors.E(errors.Internal, err)
	}
	if err := os.Link(tmp, path); err != nil {
		if os.IsExist(err) {
			return errors.E(errors.Exist, err)
		}
		return errors.E(errors.Internal, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
