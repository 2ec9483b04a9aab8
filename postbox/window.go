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
// lives only in this process's memory, never longer than windowLife after
// it was made, and is wiped when its window ends or the Service closes.
const (
	windowLife     = 10 * time.Minute
	windowMessages = 10000
)

// windows holds the current delivery window of each recipient key,
// keyed by the key's fingerprint.
type windows struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*window
}

type window struct {
	w     *seal.Window
	until time.Time
	left  int
}

// sealFrom seals everything read from src for r in r's current window,
// opening a new window when there is none or it has ended.
func (ws *windows) sealFrom(w io.Writer, r *seal.Recipient, src io.Reader) (int64, error) {
	wd, err := ws.current(r)
	if err != nil {
		return 0, err
	}
	return wd.SealFrom(w, src)
}

func (ws *windows) current(r *seal.Recipient) (*seal.Window, error) {
	now := ws.now()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.m == nil {
		ws.m = make(map[string]*window)
	}
	for fpr, cur := range ws.m { // forget ended windows of anyone
		if !now.Before(cur.until) {
			cur.w.Wipe()
			delete(ws.m, fpr)
		}
	}
	cur := ws.m[r.Fingerprint()]
	if cur == nil || cur.left <= 0 {
		if cur != nil {
			cur.w.Wipe()
		}
		wd, err := r.NewWindow() // one public-key operation per window
		if err != nil {
			return nil, err
		}
		cur = &window{w: wd, until: now.Add(windowLife), left: windowMessages}
		ws.m[r.Fingerprint()] = cur
	}
	cur.left--
	return cur.w, nil
}

// wipe ends every window.
func (ws *windows) wipe() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for _, cur := range ws.m {
		cur.w.Wipe()
	}
	ws.m = nil
}
