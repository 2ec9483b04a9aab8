// Package s3 is a sealpost.BlobStore on an S3-compatible bucket (Amazon S3,
// or any server that speaks its API), reached with minio-go.
//
// Each blob is one object whose key is the store's prefix followed by the
// blob's ref: 32 lower-case hex digits of crypto/rand, so the key says
// nothing about the content and, being random, spreads evenly over S3's
// partitions. Objects hold sealed bytes only (OpenPGP ciphertext); no
// metadata of ours goes with them but a generic content type.
//
// A prefix lets several regions or deployments share a bucket: a store
// reads, writes, deletes and lists only keys directly under its own prefix.
// A ref is checked against its exact format before any key is built from
// it, so no request ever carries a key outside the prefix ("../x",
// "a/b", "" are Invalid errors that never reach the server).
//
// Durability: Put sends one PUT request (never a multipart upload, so an
// object exists whole or not at all) and returns only after the server
// answered 200 OK. By S3's contract the object is then durably stored, and
// every later GET sees it (Amazon S3 is strongly read-after-write consistent).
// Another S3-compatible server gives whatever its own contract gives: the
// operator must choose one that has made the object durable (written
// redundantly, or fsynced) before it answers.
//
// Errors: a key that does not exist is NotExist; refused credentials are
// Permission; network failures, timeouts, a canceled context and 5xx
// answers (S3's "slow down", "internal error") are Unavailable, so callers
// may retry. minio-go already retries a request a few times with backoff,
// and every Put, Get and Delete is bounded by Config.Timeout, so a server
// that is down or hung yields an error, not a hang.
package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Config says where a store's objects live.
type Config struct {
	// Endpoint is the server's host and optional port, without a scheme:
	// "s3.eu-west-1.amazonaws.com", "127.0.0.1:7070".
	Endpoint string
	// Bucket holds the objects. It must exist unless CreateBucket is set.
	Bucket string
	// AccessKey and SecretKey sign requests (AWS Signature Version 4).
	AccessKey string
	SecretKey string
	// Secure makes requests over HTTPS, checked against the system's
	// certificate authorities.
	Secure bool
	// Region is the bucket's region, e.g. "eu-west-1". Empty means ask the
	// server (one more request at Open).
	Region string
	// Prefix is prepended to every key, so that several stores can share
	// a bucket: "ie/" and "us/" for two regions. A "/" is added when it
	// does not end in one. It must not begin with "/" and must contain no
	// empty, "." or ".." path segment. Empty means the bucket's top level.
	Prefix string
	// CreateBucket makes Open create the bucket (in Region) when it does
	// not exist, instead of failing.
	CreateBucket bool
	// Timeout bounds each Put, Get and Delete, and each request of Open and
	// List, retries included. Zero means one minute.
	Timeout time.Duration
	// SpoolDir is where a blob written in pieces (Create) waits, sealed,
	// in an anonymous file until Commit sends it. Empty means
	// os.TempDir().
	SpoolDir string
}

// maxRetries is how many times minio-go tries a request that failed in a
// way worth retrying, with backoff between tries (at most about a second).
const maxRetries = 3

// maxPut is the largest object one S3 PUT may carry: 5 GiB.
const maxPut = 5 << 30

// Store is a BlobStore over a bucket. It is safe for concurrent use.
type Store struct {
	client  *minio.Client
	bucket  string
	prefix  string
	timeout time.Duration
	spool   string // Config.SpoolDir
}

var _ sealpost.BlobStore = (*Store)(nil)

// Open checks cfg, connects, and checks that the bucket exists, creating it
// if cfg.CreateBucket says so. A missing bucket is a NotExist error; a
// malformed Config an Invalid one; a server that cannot be reached an
// Unavailable one.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	const op = "s3.Open"
	prefix, err := cleanPrefix(cfg.Prefix)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	switch {
	case cfg.Endpoint == "" || strings.Contains(cfg.Endpoint, "://") || strings.ContainsAny(cfg.Endpoint, "/ "):
		return nil, errors.E(op, errors.Invalid, errors.Errorf("endpoint %q: want host or host:port", cfg.Endpoint))
	case cfg.Bucket == "":
		return nil, errors.E(op, errors.Invalid, errors.Str("no bucket"))
	case s3utils.CheckValidBucketNameStrict(cfg.Bucket) != nil:
		return nil, errors.E(op, errors.Invalid, s3utils.CheckValidBucketNameStrict(cfg.Bucket))
	case cfg.Timeout < 0:
		return nil, errors.E(op, errors.Invalid, errors.Str("negative timeout"))
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	tr, err := minio.DefaultTransport(cfg.Secure)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	tr.DialContext = (&net.Dialer{Timeout: min(timeout, 10*time.Second), KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = timeout
	tr.MaxIdleConnsPerHost = 64 // many sessions Put at once
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     cfg.Secure,
		Region:     cfg.Region,
		Transport:  tr,
		MaxRetries: maxRetries,
	})
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	spool := cfg.SpoolDir
	if spool == "" {
		spool = os.TempDir()
	}
	s := &Store{client: client, bucket: cfg.Bucket, prefix: prefix, timeout: timeout, spool: spool}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, errors.E(op, classify(ctx, err), err)
	}
	if ok {
		return s, nil
	}
	if !cfg.CreateBucket {
		return nil, errors.E(op, errors.NotExist, errors.Errorf("bucket %q does not exist", cfg.Bucket))
	}
	err = client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
	if err != nil && minio.ToErrorResponse(err).Code != minio.BucketAlreadyOwnedByYou {
		return nil, errors.E(op, classify(ctx, err), err)
	}
	return s, nil
}

// cleanPrefix checks a Config.Prefix and returns it ending in "/", or "".
func cleanPrefix(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	p = strings.TrimSuffix(p, "/")
	if len(p) > 512 {
		return "", errors.Str("prefix longer than 512 bytes")
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "", errors.Errorf("prefix %q: control character or backslash", p)
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", errors.Errorf("prefix %q: empty, \".\" or \"..\" segment", p)
		}
	}
	return p + "/", nil
}

// refLen is the length of a ref: 128 random bits in hex.
const refLen = 32

// validRef reports whether ref has the exact form Put produces: refLen
// lower-case hex digits. Nothing else ever becomes part of a key.
func validRef(ref sealpost.BlobRef) bool {
	if len(ref) != refLen {
		return false
	}
	for i := 0; i < len(ref); i++ {
		if c := ref[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// key returns the object key of a valid ref.
func (s *Store) key(ref sealpost.BlobRef) string { return s.prefix + string(ref) }

// Put stores data under a new random ref with one PUT request. The blob is
// durable when Put returns nil: S3 answers 200 only once the object is
// stored durably (see the package doc for other servers). minio-go sends a
// CRC-32C of the data, which the server checks before it answers.
func (s *Store) Put(ctx context.Context, data []byte) (sealpost.BlobRef, error) {
	const op = "s3.Put"
	if len(data) > maxPut {
		return "", errors.E(op, errors.TooLarge, errors.Errorf("blob of %d bytes", len(data)))
	}
	var b [refLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errors.E(op, errors.Internal, err)
	}
	ref := sealpost.BlobRef(hex.EncodeToString(b[:]))
	if err := s.putObject(ctx, ref, bytes.NewReader(data), int64(len(data))); err != nil {
		return "", errors.E(op, err)
	}
	return ref, nil
}

// putObject sends one PUT of size bytes read from r.
func (s *Store) putObject(ctx context.Context, ref sealpost.BlobRef, r io.Reader, size int64) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.client.PutObject(ctx, s.bucket, s.key(ref), r, size,
		minio.PutObjectOptions{
			ContentType:      "application/octet-stream",
			DisableMultipart: true,
		})
	if err != nil {
		return errors.E(classify(ctx, err), err)
	}
	return nil
}

// Get reads a blob whole, within the timeout, and returns a reader over it,
// so that a failure mid-transfer is Get's error and not a later Read's. A
// ref Put could not have produced is an Invalid error; a well-formed ref
// with no object is a NotExist error.
func (s *Store) Get(ctx context.Context, ref sealpost.BlobRef) (io.ReadCloser, error) {
	const op = "s3.Get"
	if !validRef(ref) {
		return nil, errors.E(op, errors.Invalid, errors.Str("malformed blob ref"))
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	body, info, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, s.key(ref), minio.GetObjectOptions{})
	if err != nil {
		return nil, errors.E(op, classify(ctx, err), err)
	}
	defer body.Close()
	var data []byte
	switch {
	case info.Size > maxPut:
		return nil, errors.E(op, errors.Internal, errors.Errorf("blob %s: size %d", ref, info.Size))
	case info.Size >= 0:
		data = make([]byte, info.Size)
		_, err = io.ReadFull(body, data)
	default: // no Content-Length
		data, err = io.ReadAll(io.LimitReader(body, maxPut))
	}
	if err != nil {
		return nil, errors.E(op, classify(ctx, err), errors.Errorf("blob %s: %w", ref, err))
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Delete removes a blob. Deleting a missing blob is not an error (S3
// answers a DELETE of a missing key with success); a malformed ref is an
// Invalid error.
func (s *Store) Delete(ctx context.Context, ref sealpost.BlobRef) error {
	const op = "s3.Delete"
	if !validRef(ref) {
		return errors.E(op, errors.Invalid, errors.Str("malformed blob ref"))
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := s.client.RemoveObject(ctx, s.bucket, s.key(ref), minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return errors.E(op, classify(ctx, err), err)
	}
	return nil
}

// List calls fn with the ref of every object directly under the prefix
// whose name is a ref, in key order, stopping at fn's first error and
// returning it unchanged. Keys under a deeper prefix (another store's, when
// this one has the shorter prefix) and names Put could not have made are
// skipped. Objects put or deleted during List may or may not be seen.
func (s *Store) List(ctx context.Context, fn func(sealpost.BlobRef) error) error {
	const op = "s3.List"
	if err := ctx.Err(); err != nil {
		return errors.E(op, errors.Unavailable, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing when fn fails
	objs := s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix})
	for obj := range objs {
		if obj.Err != nil {
			return errors.E(op, classify(ctx, obj.Err), obj.Err)
		}
		ref, ok := strings.CutPrefix(obj.Key, s.prefix)
		if !ok || !validRef(sealpost.BlobRef(ref)) {
			continue // a common prefix ("x/"), or not ours
		}
		if err := fn(sealpost.BlobRef(ref)); err != nil {
			return err
		}
	}
	return nil
}

// classify maps an error from minio-go to a Kind.
func classify(ctx context.Context, err error) errors.Kind {
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case minio.NoSuchKey:
		return errors.NotExist
	case minio.NoSuchBucket:
		// The bucket was there at Open: a misconfiguration or an
		// operator's mistake, not a missing blob.
		return errors.Internal
	case minio.AccessDenied, "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccountProblem":
		return errors.Permission
	case "SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError", "RequestTimeTooSkewed":
		return errors.Unavailable
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return errors.Unavailable
	}
	if resp.Code != "" || resp.StatusCode != 0 {
		return errors.Internal // the server refused a request we should not have sent
	}
	var netErr net.Error
	switch {
	case ctx.Err() != nil,
		errors.IsErr(err, context.DeadlineExceeded), errors.IsErr(err, context.Canceled),
		errors.As(err, &netErr),
		errors.IsErr(err, io.ErrUnexpectedEOF), errors.IsErr(err, io.EOF),
		errors.IsErr(err, syscall.ECONNREFUSED), errors.IsErr(err, syscall.ECONNRESET):
		return errors.Unavailable
	}
	return errors.Internal
}
