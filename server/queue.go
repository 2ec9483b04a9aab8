package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/outbound"
)

// This file is the operator's view of the outbound queues: listing them
// and acting on an entry, in this process or, through the control socket,
// in the running server that owns them.

// QueueEntry is a queued message as the operator sees it: its envelope,
// size and attempts. Never its content, which stays sealed.
type QueueEntry struct {
	Region  sealpost.RegionID      `json:"region"`
	Message sealpost.QueuedMessage `json:"message"`
}

// QueueList lists every served region's queue, by region then ID.
func (s *Server) QueueList(ctx context.Context) ([]QueueEntry, error) {
	ids := make([]string, 0, len(s.Regions))
	for id := range s.Regions {
		ids = append(ids, string(id))
	}
	sort.Strings(ids)
	var out []QueueEntry
	for _, id := range ids {
		q, err := s.Regions[sealpost.RegionID(id)].Store.Queue(ctx)
		if err != nil {
			return nil, errors.E("server.QueueList", err)
		}
		for _, m := range q {
			out = append(out, QueueEntry{Region: sealpost.RegionID(id), Message: m})
		}
	}
	return out, nil
}

// QueueAct does act to entry id of a region's queue: through the region's
// delivery service when this process runs one (later: the entry is being
// delivered and changes once the attempt is recorded), directly otherwise.
func (s *Server) QueueAct(ctx context.Context, region sealpost.RegionID, id int64, act outbound.Action) (later bool, err error) {
	const op = "server.QueueAct"
	r, ok := s.Regions[region]
	if !ok {
		return false, errors.E(op, errors.NotExist, errors.Errorf("region %q is not served here", region))
	}
	if svc := s.Delivery[region]; svc != nil {
		later, err = svc.Act(ctx, id, act)
	} else {
		err = outbound.Apply(ctx, r.Store, r.Blobs, id, act, time.Now())
	}
	if err != nil {
		return false, errors.E(op, err)
	}
	return later, nil
}

// AccountSettings returns an account's settings, after setting SaveSent
// when saveSent is not nil.
func (s *Server) AccountSettings(ctx context.Context, addr string, saveSent *bool) (sealpost.AccountSettings, error) {
	const op = "server.AccountSettings"
	svc, _, err := s.Router.Postbox(ctx, addr)
	if err != nil {
		return sealpost.AccountSettings{}, errors.E(op, err)
	}
	set, err := svc.SetSettings(ctx, addr, func(set *sealpost.AccountSettings) {
		if saveSent != nil {
			set.SaveSent = *saveSent
		}
	})
	if err != nil {
		return sealpost.AccountSettings{}, errors.E(op, err)
	}
	return set, nil
}

// CtlPath is the control socket of the server whose data folder is dir:
// commands run while the server runs reach it there.
func CtlPath(dir string) string { return filepath.Join(dir, "ctl.sock") }

// ctlRequest and ctlReply are the control socket's messages: one JSON
// request, one JSON reply, per connection.
type ctlRequest struct {
	Op      string            `json:"op"` // "queue.list", "queue.act", "account.settings"
	Region  sealpost.RegionID `json:"region,omitempty"`
	ID      int64             `json:"id,omitempty"`
	Action  string            `json:"action,omitempty"`
	Address string            `json:"address,omitempty"`
	// SaveSent, when set, is the new value of that setting.
	SaveSent *bool `json:"save_sent,omitempty"`
	// Quota, when set, is the account's new quota override.
	Quota *sealpost.Quota `json:"quota,omitempty"`
	// Import opens an import (server/import.go).
	Import *ImportOpen `json:"import,omitempty"`
}

type ctlReply struct {
	Error    string                    `json:"error,omitempty"`
	Kind     string                    `json:"kind,omitempty"`
	Queue    []QueueEntry              `json:"queue,omitempty"`
	Later    bool                      `json:"later,omitempty"`
	Settings *sealpost.AccountSettings `json:"settings,omitempty"`
	Quota    *QuotaReport              `json:"quota,omitempty"`
}

// startCtl listens on the control socket (mode 0600 in the private data
// folder: the server's own user only).
func (s *Server) startCtl() error {
	path := CtlPath(s.cfg.DataDir)
	if abs, err := filepath.Abs(path); err == nil && len(abs) > 100 {
		// A Unix socket's path is at most 108 bytes.
		s.log.Warn("control socket path too long: queue commands need the server stopped", "path", abs)
		return nil
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return errors.E("server.startCtl", errors.Exist, errors.Str("another server is running on this data folder"))
	}
	os.Remove(path) // a socket left by a process that died
	ln, err := net.Listen("unix", path)
	if err != nil {
		return errors.E("server.startCtl", errors.Unavailable, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return errors.E("server.startCtl", errors.Internal, err)
	}
	s.listeners = append(s.listeners, &listener{"ctl", ln})
	s.closers = append(s.closers, func() error { os.Remove(path); return nil })
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serveCtl(c)
		}
	}()
	return nil
}

func (s *Server) serveCtl(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	var req ctlRequest
	br := bufio.NewReader(c)
	dec := json.NewDecoder(br)
	if err := dec.Decode(&req); err != nil {
		json.NewEncoder(c).Encode(ctlReply{Error: "bad request", Kind: errors.Invalid.String()})
		return
	}
	if req.Op == "import" { // server/import.go: a stream of batches
		s.serveImport(c, io.MultiReader(dec.Buffered(), br), req.Import)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	var rep ctlReply
	var err error
	switch req.Op {
	case "queue.list":
		rep.Queue, err = s.QueueList(ctx)
	case "queue.act":
		var act outbound.Action
		if act, err = outbound.ParseAction(req.Action); err == nil {
			rep.Later, err = s.QueueAct(ctx, req.Region, req.ID, act)
		}
	case "account.settings":
		var set sealpost.AccountSettings
		set, err = s.AccountSettings(ctx, req.Address, req.SaveSent)
		rep.Settings = &set
	case "account.quota":
		var q QuotaReport
		q, err = s.AccountQuota(ctx, req.Address, req.Quota)
		rep.Quota = &q
	default:
		err = errors.E(errors.Invalid, errors.Errorf("unknown operation %q", req.Op))
	}
	if err != nil {
		rep = ctlReply{Error: err.Error(), Kind: errors.KindOf(err).String()}
	}
	json.NewEncoder(c).Encode(rep)
}

// Ctl is a client of a running server's control socket.
type Ctl struct{ path string }

// DialCtl returns a client of the server running on data folder dir, or
// an Unavailable error if none runs there.
func DialCtl(dir string) (*Ctl, error) {
	c, err := net.DialTimeout("unix", CtlPath(dir), time.Second)
	if err != nil {
		return nil, errors.E("server.DialCtl", errors.Unavailable, err)
	}
	c.Close()
	return &Ctl{CtlPath(dir)}, nil
}

func (c *Ctl) do(req ctlRequest) (ctlReply, error) {
	conn, err := net.DialTimeout("unix", c.path, time.Second)
	if err != nil {
		return ctlReply{}, errors.E("server.Ctl", errors.Unavailable, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return ctlReply{}, errors.E("server.Ctl", errors.Unavailable, err)
	}
	var rep ctlReply
	if err := json.NewDecoder(conn).Decode(&rep); err != nil {
		return ctlReply{}, errors.E("server.Ctl", errors.Unavailable, err)
	}
	if rep.Error != "" {
		kind := errors.Other
		for k := errors.Other; k <= errors.OverQuota; k++ {
			if k.String() == rep.Kind {
				kind = k
			}
		}
		return rep, errors.E("server.Ctl", kind, errors.Str(rep.Error))
	}
	return rep, nil
}

// AccountSettings reads, and with saveSent set changes, an account's
// settings in the running server.
func (c *Ctl) AccountSettings(addr string, saveSent *bool) (sealpost.AccountSettings, error) {
	rep, err := c.do(ctlRequest{Op: "account.settings", Address: addr, SaveSent: saveSent})
	if rep.Settings == nil {
		return sealpost.AccountSettings{}, err
	}
	return *rep.Settings, err
}

// QueueList lists the running server's queues.
func (c *Ctl) QueueList() ([]QueueEntry, error) {
	rep, err := c.do(ctlRequest{Op: "queue.list"})
	return rep.Queue, err
}

// QueueAct acts on an entry of the running server's queues.
func (c *Ctl) QueueAct(region sealpost.RegionID, id int64, act outbound.Action) (later bool, err error) {
	rep, err := c.do(ctlRequest{Op: "queue.act", Region: region, ID: id, Action: act.String()})
	return rep.Later, err
}
