package region

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/seal"
)

// This file is the hand-off between regions: the internal HTTP API a
// regional node serves to the rest of its deployment (over mutually
// authenticated TLS, see package cluster), and the Link that calls it.
//
//	GET  /v1/recipient?address=A            → 200 {"address","key_id","public_key","own_key"}
//	POST /v1/deliver?address=A&key_id=K&size=N[&use=\Junk]   body: the sealed message → 204 once durable
//	POST /v1/deliver-plain?address=A&size=N[&from=F][&use=\Junk][&notice=1][&client=IP&helo=H]
//	     body: the message as it arrived → 204 once filed, 403 with the reason when the filters refuse it
//
// For most recipients only public keys and sealed bytes cross: a sender
// seals in its own memory and the home region stores what it receives. An
// account whose mail the home region filters before sealing (its Sieve
// script, its classifier, the deployment's spam engine: "filters" in the
// recipient reply) gets its mail as it arrived, over the same mutual TLS,
// because only its home region may open its filter key; the home region
// holds it as a message temporary (seal.Temp: ciphertext under a key in
// memory, an unnamed file) and delivers it as its own MX would. Errors map to status codes
// (404 no such account, 421 homed elsewhere, 409 sealed to a key no longer
// active, 413 too large, 503 try later) and back to error kinds. A
// delivery goes to the account's INBOX, or with use=\Junk to its Junk
// mailbox (a message the MX quarantined); no other mailbox can be named.

// maxSealedOverhead bounds how much bigger than the message its sealed form
// may be (PGP/MIME for own-key accounts is base64-armoured).
const maxSealedOverhead = 1 << 20

// Handler serves the internal API of one region's postbox.
// Messages handed over as they arrived wait in tempDir (see seal.Temp).
func Handler(svc *postbox.Service, tempDir string, log *slog.Logger) http.Handler {
	if log == nil {
		log = mlog.Discard()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/recipient", func(w http.ResponseWriter, r *http.Request) {
		rk, err := svc.RecipientKey(r.Context(), r.URL.Query().Get("address"))
		if err != nil {
			httpError(w, log, "recipient", err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(recipientJSON{Address: rk.Address, KeyID: int64(rk.KeyID), PublicKey: rk.PublicKey, OwnKey: rk.OwnKey, Filters: rk.Filters})
	})
	mux.HandleFunc("POST /v1/deliver", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		keyID, err1 := strconv.ParseInt(q.Get("key_id"), 10, 64)
		size, err2 := strconv.ParseInt(q.Get("size"), 10, 64)
		if err1 != nil || err2 != nil || size < 0 {
			http.Error(w, "bad key_id or size", http.StatusBadRequest)
			return
		}
		use := sealpost.SpecialUse(q.Get("use"))
		if use != sealpost.UseNone && use != sealpost.UseInbox && use != sealpost.UseJunk {
			http.Error(w, "bad use", http.StatusBadRequest)
			return
		}
		// The body streams into the blob store (DeliverSealed bounds it);
		// a body cut short or over the bound leaves no blob.
		limit := svc.MaxMessageSize()*2 + maxSealedOverhead
		body := http.MaxBytesReader(w, r.Body, limit)
		if err := svc.DeliverSealed(r.Context(), q.Get("address"), sealpost.KeyID(keyID), body, size, use); err != nil {
			httpError(w, log, "deliver", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /v1/deliver-plain", func(w http.ResponseWriter, r *http.Request) {
		deliverPlain(w, r, svc, tempDir, log)
	})
	return mux
}

// deliverPlain serves /v1/deliver-plain: the message is read into a
// message temporary (bounded by the largest message, refused past it) and
// delivered as the MX delivers, filters first.
func deliverPlain(w http.ResponseWriter, r *http.Request, svc *postbox.Service, tempDir string, log *slog.Logger) {
	q := r.URL.Query()
	env := postbox.Envelope{From: q.Get("from"), Recipients: []string{q.Get("address")}, Helo: q.Get("helo"), Notice: q.Get("notice") == "1"}
	switch sealpost.SpecialUse(q.Get("use")) {
	case sealpost.UseNone, sealpost.UseInbox:
	case sealpost.UseJunk:
		env.Junk = true
	default:
		http.Error(w, "bad use", http.StatusBadRequest)
		return
	}
	if c := q.Get("client"); c != "" {
		a, err := netip.ParseAddr(c)
		if err != nil {
			http.Error(w, "bad client", http.StatusBadRequest)
			return
		}
		env.Client = a
	}
	size, err := strconv.ParseInt(q.Get("size"), 10, 64)
	if err != nil || size < 0 {
		http.Error(w, "bad size", http.StatusBadRequest)
		return
	}
	if size > svc.MaxMessageSize() {
		httpError(w, log, "deliver-plain", errors.E(errors.TooLarge))
		return
	}
	temp, err := seal.NewTemp(tempDir)
	if err != nil {
		httpError(w, log, "deliver-plain", errors.E(errors.Unavailable, err))
		return
	}
	defer temp.Discard()
	n, err := io.Copy(temp, io.LimitReader(r.Body, size+1))
	if err == nil {
		err = temp.Finish()
	}
	switch {
	case err != nil:
		httpError(w, log, "deliver-plain", errors.E(errors.Unavailable, err))
		return
	case n != size:
		http.Error(w, "body is not size bytes", http.StatusBadRequest)
		return
	}
	err = svc.Deliver(r.Context(), env, tempMessage{temp})
	var ref *postbox.Refusal
	if errors.As(err, &ref) {
		http.Error(w, ref.ReplyText(), http.StatusForbidden)
		return
	}
	if err != nil {
		httpError(w, log, "deliver-plain", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// tempMessage is a finished message temporary as a postbox.Message.
type tempMessage struct{ t *seal.Temp }

func (m tempMessage) Size() int64          { return m.t.Size() }
func (m tempMessage) NewReader() io.Reader { return m.t.NewReader(0) }

type recipientJSON struct {
	Address   string `json:"address"`
	KeyID     int64  `json:"key_id"`
	PublicKey []byte `json:"public_key"`
	OwnKey    bool   `json:"own_key"`
	Filters   bool   `json:"filters,omitempty"`
}

var statusOf = map[errors.Kind]int{
	errors.NotExist:    http.StatusNotFound,
	errors.WrongRegion: http.StatusMisdirectedRequest,
	errors.Invalid:     http.StatusConflict,
	errors.TooLarge:    http.StatusRequestEntityTooLarge,
	errors.OverQuota:   http.StatusInsufficientStorage,
	errors.Unavailable: http.StatusServiceUnavailable,
}

func httpError(w http.ResponseWriter, log *slog.Logger, what string, err error) {
	code, ok := statusOf[errors.KindOf(err)]
	if !ok {
		code = http.StatusInternalServerError
		log.Error("internal api", "call", what, "err", err)
	}
	http.Error(w, errors.KindOf(err).String(), code)
}

func kindOfStatus(code int) errors.Kind {
	for k, c := range statusOf {
		if c == code {
			return k
		}
	}
	return errors.Internal
}

// Link reaches another region's node over the deployment's internal mTLS.
// It is safe for concurrent use.
type Link struct {
	region sealpost.RegionID
	base   string
	client *http.Client

	mu   sync.Mutex
	keys map[string]linkKey
}

type linkKey struct {
	rk     postbox.RecipientKey
	r      *seal.Recipient
	loaded time.Time
}

// keyTTL bounds how long a Link seals to a fetched key without asking again;
// a stale key is refused by the home region (409) and fetched afresh.
const keyTTL = 5 * time.Second

// NewLink returns a link to region's node at addr (host:port). tlsConfig
// carries this node's client certificate and the deployment CA; the link
// adds ALPN "http/1.1".
func NewLink(region sealpost.RegionID, addr string, tlsConfig *tls.Config) *Link {
	tc := tlsConfig.Clone()
	tc.NextProtos = []string{"http/1.1"}
	tr := &http.Transport{
		TLSClientConfig:     tc,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	return &Link{
		region: region,
		base:   "https://" + addr,
		client: &http.Client{Transport: tr, Timeout: 2 * time.Minute},
		keys:   make(map[string]linkKey),
	}
}

// Region returns the region the link reaches.
func (l *Link) Region() sealpost.RegionID { return l.region }

// Close drops idle connections.
func (l *Link) Close() { l.client.CloseIdleConnections() }

func (l *Link) do(req *http.Request, op string) (*http.Response, error) {
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, errors.E(op, errors.Unavailable, err)
	}
	if resp.StatusCode == http.StatusForbidden && req.URL.Path == "/v1/deliver-plain" {
		// The filters refused the message: their reason, for the SMTP reply.
		reason, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, errors.E(op, &postbox.Refusal{Reason: string(bytes.TrimSpace(reason))})
	}
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, errors.E(op, kindOfStatus(resp.StatusCode),
			errors.Errorf("region %s: %s: %s", l.region, resp.Status, bytes.TrimSpace(msg)))
	}
	return resp, nil
}

// RecipientKey fetches the key to seal mail for addr to, cached briefly.
func (l *Link) RecipientKey(ctx context.Context, addr string) (postbox.RecipientKey, *seal.Recipient, error) {
	const op = "region.Link.RecipientKey"
	addr = sealpost.NormalizeAddress(addr)
	l.mu.Lock()
	k, ok := l.keys[addr]
	l.mu.Unlock()
	if ok && time.Since(k.loaded) < keyTTL {
		return k.rk, k.r, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base+"/v1/recipient?address="+url.QueryEscape(addr), nil)
	if err != nil {
		return postbox.RecipientKey{}, nil, errors.E(op, errors.Internal, err)
	}
	resp, err := l.do(req, op)
	if err != nil {
		return postbox.RecipientKey{}, nil, err
	}
	defer resp.Body.Close()
	var rj recipientJSON
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&rj); err != nil {
		return postbox.RecipientKey{}, nil, errors.E(op, errors.Unavailable, err)
	}
	r, err := seal.ParseRecipient(rj.PublicKey)
	if err != nil {
		return postbox.RecipientKey{}, nil, errors.E(op, errors.Internal, err)
	}
	k = linkKey{rk: postbox.RecipientKey{Address: rj.Address, KeyID: sealpost.KeyID(rj.KeyID), PublicKey: rj.PublicKey, OwnKey: rj.OwnKey, Filters: rj.Filters}, r: r, loaded: time.Now()}
	l.mu.Lock()
	if len(l.keys) > 100000 {
		clear(l.keys)
	}
	l.keys[addr] = k
	l.mu.Unlock()
	return k.rk, k.r, nil
}

// DeliverSealed hands a sealed message, read from sealed as it is sent (a
// chunked request body), to the home region, for addr's mailbox of the
// given use (UseInbox or UseJunk), and returns once it is durable there.
func (l *Link) DeliverSealed(ctx context.Context, addr string, keyID sealpost.KeyID, sealed io.Reader, size int64, use sealpost.SpecialUse) error {
	const op = "region.Link.DeliverSealed"
	u := fmt.Sprintf("%s/v1/deliver?address=%s&key_id=%d&size=%d", l.base, url.QueryEscape(addr), keyID, size)
	if use != sealpost.UseNone && use != sealpost.UseInbox {
		u += "&use=" + url.QueryEscape(string(use))
	}
	return l.post(ctx, op, u, sealed, -1, "application/octet-stream")
}

// post sends body to u and waits for a 2xx reply; size is the body's
// length, or -1 to send it chunked as it is read.
func (l *Link) post(ctx context.Context, op, u string, body io.Reader, size int64, ctype string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return errors.E(op, errors.Internal, err)
	}
	if size >= 0 {
		req.ContentLength = size
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := l.do(req, op)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}

// DeliverPlain hands msg, as it arrived, to addr's home region, which
// delivers it as its MX would (its filters, then sealing), and returns once
// it is filed there; a refusal by the filters is a *postbox.Refusal. The
// message is streamed over the link's mutual TLS, never stored here.
func (l *Link) DeliverPlain(ctx context.Context, env postbox.Envelope, addr string, msg postbox.Message) error {
	const op = "region.Link.DeliverPlain"
	q := url.Values{"address": {addr}, "size": {strconv.FormatInt(msg.Size(), 10)}}
	if env.From != "" {
		q.Set("from", env.From)
	}
	if env.Junk {
		q.Set("use", string(sealpost.UseJunk))
	}
	if env.Notice {
		q.Set("notice", "1")
	}
	if env.Client.IsValid() {
		q.Set("client", env.Client.String())
		q.Set("helo", env.Helo)
	}
	return l.post(ctx, op, l.base+"/v1/deliver-plain?"+q.Encode(), msg.NewReader(), msg.Size(), "message/rfc822")
}

// Deliver delivers msg to addr in its home region. When the home region
// filters the account's mail (RecipientKey's Filters) the message goes as
// it arrived (DeliverPlain). Otherwise Deliver seals it in this process's
// memory as it sends it (a goroutine seals into a pipe that is the
// request's body, so neither the message nor its sealed form is ever held
// whole) and hands the sealed message over, for the mailbox env names (see
// DeliverSealed); if the home region has meanwhile made a new key
// generation active, it fetches the key again and reseals once.
func (l *Link) Deliver(ctx context.Context, env postbox.Envelope, addr string, msg postbox.Message, now time.Time) error {
	const op = "region.Link.Deliver"
	from, use := env.From, env.Use()
	for attempt := 0; ; attempt++ {
		rk, r, err := l.RecipientKey(ctx, addr)
		if err != nil {
			return errors.E(op, err)
		}
		if rk.Filters {
			return l.DeliverPlain(ctx, env, addr, msg)
		}
		pr, pw := io.Pipe()
		sealed := make(chan error, 1)
		go func() {
			_, err := postbox.SealTo(pw, r, rk.OwnKey, msg, from, rk.Address, now)
			pw.CloseWithError(err) // nil: EOF, the end of the body
			sealed <- err
		}()
		err = l.DeliverSealed(ctx, addr, rk.KeyID, pr, msg.Size(), use)
		pr.CloseWithError(errors.Str("request ended")) // stops the sealer if the request ended early
		serr := <-sealed
		if errors.Is(errors.Invalid, err) && attempt == 0 {
			l.mu.Lock()
			delete(l.keys, sealpost.NormalizeAddress(addr))
			l.mu.Unlock()
			continue
		}
		if err != nil {
			return errors.E(op, err)
		}
		if serr != nil { // cannot be: the home region took the whole body
			return errors.E(op, serr)
		}
		return nil
	}
}
