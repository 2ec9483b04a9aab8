package certs

import (
	"crypto/tls"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// Files serves a certificate and key read from PEM files, and reads them
// again when they change: Watch polls their size and modification time,
// Reload reads them unconditionally (the server calls it on SIGHUP). A new
// pair that does not load (a key that does not match, half a file, an
// expired certificate) is logged and the one in service kept, so a
// mistaken copy never takes TLS down.
type Files struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	cur atomic.Pointer[tls.Certificate]

	mu   sync.Mutex // serializes loads; guards seen
	seen stamp      // the files as last tried, loaded or not

	stop     chan struct{}
	done     chan struct{}
	watching atomic.Bool
	once     sync.Once
}

var _ Source = (*Files)(nil)

// stamp is what polling compares: each file's size and modification time.
type stamp struct {
	certSize, keySize int64
	certMod, keyMod   time.Time
}

// OpenFiles loads the pair; it fails if the first load does. Watch starts
// polling.
func OpenFiles(certFile, keyFile string, log *slog.Logger) (*Files, error) {
	const op = "certs.OpenFiles"
	f := &Files{certFile: certFile, keyFile: keyFile, log: log, now: time.Now,
		stop: make(chan struct{}), done: make(chan struct{})}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, _ := f.stat()
	c, err := f.load()
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	f.cur.Store(c)
	f.seen = st
	return f, nil
}

// GetCertificate implements Source: the pair in service, whatever the hello.
func (f *Files) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.cur.Load(), nil
}

// AnswersALPN01 implements Source: no.
func (f *Files) AnswersALPN01() bool { return false }

// Current returns the certificate in service.
func (f *Files) Current() *tls.Certificate { return f.cur.Load() }

// Reload reads the pair again and puts it in service if it loads; if not,
// it logs why, keeps the pair in service and returns the error.
func (f *Files) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, _ := f.stat()
	f.seen = st
	return f.reloadLocked()
}

// check reloads the pair if either file's size or modification time
// differs from the last try. A pair that failed is not tried again until
// a file changes once more (an operator copying the certificate, then the
// key, is tried at each step, and logged once per step).
func (f *Files) check() {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := f.stat()
	if err != nil || st == f.seen {
		// A missing file is the middle of a replacement, or a mistake
		// that Reload (SIGHUP) reports; the pair in service stays.
		return
	}
	f.seen = st
	f.reloadLocked()
}

func (f *Files) reloadLocked() error {
	c, err := f.load()
	if err != nil {
		old := f.cur.Load().Leaf
		f.log.Error("tls: new certificate files do not load; the previous certificate stays in service",
			"cert", f.certFile, "key", f.keyFile, "err", err,
			"serving_serial", old.SerialNumber.Text(16), "serving_not_after", old.NotAfter)
		return err
	}
	f.cur.Store(c)
	f.log.Info("tls: certificate files loaded", "cert", f.certFile,
		"serial", c.Leaf.SerialNumber.Text(16), "not_after", c.Leaf.NotAfter)
	return nil
}

// load reads and checks the pair: the key must match, and the leaf must be
// valid now.
func (f *Files) load() (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return nil, err
	}
	// LoadX509KeyPair fills Leaf (Go 1.23 on).
	now := f.now()
	if now.After(c.Leaf.NotAfter) {
		return nil, errors.Errorf("the certificate expired at %s", c.Leaf.NotAfter.Format(time.RFC3339))
	}
	if now.Before(c.Leaf.NotBefore) {
		return nil, errors.Errorf("the certificate is not valid before %s", c.Leaf.NotBefore.Format(time.RFC3339))
	}
	return &c, nil
}

func (f *Files) stat() (stamp, error) {
	c, err := os.Stat(f.certFile)
	if err != nil {
		return stamp{}, err
	}
	k, err := os.Stat(f.keyFile)
	if err != nil {
		return stamp{}, err
	}
	return stamp{c.Size(), k.Size(), c.ModTime(), k.ModTime()}, nil
}

// Watch checks the files every interval until Close.
func (f *Files) Watch(every time.Duration) {
	if f.watching.Swap(true) {
		return
	}
	go func() {
		defer close(f.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-f.stop:
				return
			case <-t.C:
				f.check()
			}
		}
	}()
}

// Close implements Source: it stops Watch.
func (f *Files) Close() error {
	f.once.Do(func() {
		close(f.stop)
		if f.watching.Load() {
			<-f.done
		}
	})
	return nil
}
