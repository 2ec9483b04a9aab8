package metrics

import (
	"context"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sealpost/sealpost"
)

// Store returns s timing the operations on the paths of mail (deliver,
// fetch, flag, expunge, copy, queue) into
// sealpost_store_operation_duration_seconds{region,op}; every other
// method is s's own, untimed (the embedded interface).
func (r *Registry) Store(region sealpost.RegionID, s sealpost.Store) sealpost.Store {
	return &timedStore{Store: s, obs: r.storeOps.MustCurryWith(prometheus.Labels{"region": string(region)})}
}

// Blobs returns b timing Put, Get (until the blob is open), Delete and a
// written blob's Commit into sealpost_blob_operation_duration_seconds.
func (r *Registry) Blobs(region sealpost.RegionID, b sealpost.BlobStore) sealpost.BlobStore {
	return &timedBlobs{BlobStore: b, obs: r.blobOps.MustCurryWith(prometheus.Labels{"region": string(region)})}
}

// since observes the time since start under op.
func since(obs prometheus.ObserverVec, op string, start time.Time) {
	obs.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

type timedStore struct {
	sealpost.Store
	obs prometheus.ObserverVec
}

var _ sealpost.Store = (*timedStore)(nil)

func (s *timedStore) AddMessages(ctx context.Context, msgs []sealpost.NewMessage) ([]sealpost.Message, error) {
	defer since(s.obs, "add_messages", time.Now())
	return s.Store.AddMessages(ctx, msgs)
}

func (s *timedStore) Messages(ctx context.Context, mailbox sealpost.MailboxID, after sealpost.UID) ([]sealpost.Message, error) {
	defer since(s.obs, "messages", time.Now())
	return s.Store.Messages(ctx, mailbox, after)
}

func (s *timedStore) SetFlags(ctx context.Context, mailbox sealpost.MailboxID, uids []sealpost.UID, op sealpost.FlagOp, flags []sealpost.Flag) ([]sealpost.Message, error) {
	defer since(s.obs, "set_flags", time.Now())
	return s.Store.SetFlags(ctx, mailbox, uids, op, flags)
}

func (s *timedStore) Expunge(ctx context.Context, mailbox sealpost.MailboxID, uids []sealpost.UID) (sealpost.Expunged, error) {
	defer since(s.obs, "expunge", time.Now())
	return s.Store.Expunge(ctx, mailbox, uids)
}

func (s *timedStore) CopyMessages(ctx context.Context, from sealpost.MailboxID, uids []sealpost.UID, to sealpost.MailboxID, limit int64) ([]sealpost.Message, error) {
	defer since(s.obs, "copy_messages", time.Now())
	return s.Store.CopyMessages(ctx, from, uids, to, limit)
}

func (s *timedStore) Enqueue(ctx context.Context, msgs []sealpost.QueuedMessage) ([]int64, error) {
	defer since(s.obs, "enqueue", time.Now())
	return s.Store.Enqueue(ctx, msgs)
}

type timedBlobs struct {
	sealpost.BlobStore
	obs prometheus.ObserverVec
}

var _ sealpost.BlobStore = (*timedBlobs)(nil)

func (b *timedBlobs) Put(ctx context.Context, data []byte) (sealpost.BlobRef, error) {
	defer since(b.obs, "put", time.Now())
	return b.BlobStore.Put(ctx, data)
}

func (b *timedBlobs) Get(ctx context.Context, ref sealpost.BlobRef) (io.ReadCloser, error) {
	defer since(b.obs, "get", time.Now())
	return b.BlobStore.Get(ctx, ref)
}

func (b *timedBlobs) Delete(ctx context.Context, ref sealpost.BlobRef) error {
	defer since(b.obs, "delete", time.Now())
	return b.BlobStore.Delete(ctx, ref)
}

func (b *timedBlobs) Create(ctx context.Context) (sealpost.BlobWriter, error) {
	w, err := b.BlobStore.Create(ctx)
	if err != nil {
		return nil, err
	}
	return &timedWriter{BlobWriter: w, obs: b.obs}, nil
}

// timedWriter times Commit: the durable end of a sealed write (the
// writes themselves run at the pace of the sealing).
type timedWriter struct {
	sealpost.BlobWriter
	obs prometheus.ObserverVec
}

func (w *timedWriter) Commit(ctx context.Context) (sealpost.BlobRef, error) {
	defer since(w.obs, "commit", time.Now())
	return w.BlobWriter.Commit(ctx)
}
