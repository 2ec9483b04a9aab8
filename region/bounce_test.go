package region_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/directory"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/region"
	"github.com/sealpost/sealpost/seal"
)

// TestRouterQueuesBounce: a bounce (the null sender, as the MX forwards
// one to an SRS address's original sender) has no home region; the
// router queues it in the first region served here, and refuses it as
// Unavailable where none is.
func TestRouterQueuesBounce(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	dir, err := directory.Open(filepath.Join(base, "directory.db"))
	testkit.Must(t, err)
	t.Cleanup(func() { dir.Close() })
	_, secret, err := seal.NewPassword("queue key password", pwhash.TestParams)
	testkit.Must(t, err)
	gen, err := seal.Generate("queue@sealpost.invalid", secret, pwhash.TestParams, nil)
	testkit.Must(t, err)
	qk, err := seal.ParseRecipient(gen.PublicKey)
	testkit.Must(t, err)
	withQueue := func(o *postbox.Options) { o.QueueKey = qk }
	regions := map[sealpost.RegionID]*regionEnv{}
	local := map[sealpost.RegionID]*postbox.Service{}
	for _, id := range []sealpost.RegionID{"us", "ie"} {
		regions[id] = openRegion(t, base, id, dir, withQueue)
		local[id] = regions[id].svc
	}
	router := region.NewRouter(dir, local, nil, 1<<20)
	raw := postbox.Bytes([]byte("From: MAILER-DAEMON@mx.example.net\r\nSubject: bounce\r\n\r\nx\r\n"))
	testkit.Must(t, router.Enqueue(ctx, "", []string{"Bob@example.net"}, raw))

	ie, err := regions["ie"].inner.Queue(ctx)
	testkit.Must(t, err)
	if len(ie) != 1 || ie[0].From != "" || !slices.Equal(ie[0].Recipients, []string{"Bob@example.net"}) {
		t.Errorf("ie's queue: %+v", ie)
	}
	us, err := regions["us"].inner.Queue(ctx)
	testkit.Must(t, err)
	if len(us) != 0 {
		t.Errorf("us's queue: %+v", us)
	}

	front := region.NewRouter(dir, nil, nil, 1<<20)
	testkit.WantKind(t, "a bounce on a front door", front.Enqueue(ctx, "", []string{"bob@example.net"}, raw), errors.Unavailable)
}
