package postbox

import (
	"io"
	"sync"
	"time"

	"github.com/sealpost/sealpost/seal"
)

// Delivery windows (seal.Window): mail to one key generation within
// windowLife, up to windowMessages messages, is sealed under one window key
// W, which is sealed to the owner once. The owner's session then pays one
// public-key operation per window, not per message, on a first read. W
// lives only in this process's memory and is wiped once its window has
// ended (by time, within windowSweep, or by count) and no delivery still
// seals in it, or when the Service closes.
const (
	windowLife     = 10 * time.Minute
	windowMessages = 10000
	windowSweep    = time.Minute
)

// windows holds the current delivery window of each recipient key,
// keyed by the key's fingerprint.
type windows struct {
	mu        sync.Mutex
	now       func() time.Time
	m         map[string]*window
	lastSweep time.Time
}

type window struct {
	w       *seal.Window
	until   time.Time
	left    int
	users   int  // deliveries sealing in it now
	retired bool // out of the map: wiped when users is 0
}

// sealFrom seals everything read from src for r in r's current window,
// opening a new window when there is none or it has ended.
func (ws *windows) sealFrom(w io.Writer, r *seal.Recipient, src io.Reader) (int64, error) {
	cur, err := ws.acquire(r)
	if err != nil {
		return 0, err
	}
	defer ws.release(cur)
	return cur.w.SealFrom(w, src)
}

// acquire returns r's current window, counted as in use until release.
func (ws *windows) acquire(r *seal.Recipient) (*window, error) {
	now := ws.now()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.m == nil {
		ws.m = make(map[string]*window)
	}
	if now.Sub(ws.lastSweep) >= windowSweep { // forget ended windows of anyone
		ws.lastSweep = now
		for fpr, cur := range ws.m {
			if !now.Before(cur.until) {
				ws.retire(fpr, cur)
			}
		}
	}
	fpr := r.Fingerprint()
	cur := ws.m[fpr]
	if cur != nil && (cur.left <= 0 || !now.Before(cur.until)) {
		ws.retire(fpr, cur)
		cur = nil
	}
	if cur == nil {
		wd, err := r.NewWindow() // one public-key operation per window
		if err != nil {
			return nil, err
		}
		cur = &window{w: wd, until: now.Add(windowLife), left: windowMessages}
		ws.m[fpr] = cur
	}
	cur.left--
	cur.users++
	return cur, nil
}

func (ws *windows) release(cur *window) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	cur.users--
	if cur.retired && cur.users == 0 {
		cur.w.Wipe()
	}
}

// retire takes a window out of the map; it is wiped now, or by the last
// delivery still sealing in it. Called with ws.mu held.
func (ws *windows) retire(fpr string, cur *window) {
	delete(ws.m, fpr)
	cur.retired = true
	if cur.users == 0 {
		cur.w.Wipe()
	}
}

// wipe ends every window.
func (ws *windows) wipe() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for fpr, cur := range ws.m {
		ws.retire(fpr, cur)
	}
	ws.m = nil
}
