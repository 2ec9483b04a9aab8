package e2e

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/internal/testenv"
)

// TestDemoContract checks the demo's documented contract: loopback
// listeners on 2525, 2587, 2465, 1143 and 1993, the two demo accounts, and
// "ready" once every listener accepts connections.
func TestDemoContract(t *testing.T) {
	want := map[string]string{
		"smtp": "127.0.0.1:2525", "submission": "127.0.0.1:2587", "submissions": "127.0.0.1:2465",
		"imap": "127.0.0.1:1143", "imaps": "127.0.0.1:1993",
	}
	for _, addr := range want {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Skipf("%s is already in use (a demo running?): cannot check the default ports", addr)
		}
	}
	dir := t.TempDir()
	d := testenv.StartDemoArgs(t, filepath.Join(dir, "data"), filepath.Join(dir, "demo.log"))
	for name, addr := range want {
		if d.Addrs[name] != addr {
			t.Errorf("%s listens on %q, want %s", name, d.Addrs[name], addr)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Errorf("%s not accepting after ready: %v", name, err)
			continue
		}
		c.Close()
	}
	login(t, d.Addrs["imaps"], alice, alicePass).Logout().Wait()
	login(t, d.Addrs["imaps"], bob, bobPass).Logout().Wait()
}
