package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/importer"
)

// This file is import (package importer) in the process that holds a
// region's storage: OpenImport for a command run with the server stopped,
// and the control socket's "import" operation for one run while it runs
// (the pack blob store's lock keeps a second process out). On the socket,
// after the request, the client sends batches (importFrame), each under
// a bound, and the server answers each (importAck) only once it is filed
// and recorded, durably: a client that dies mid-batch leaves the server's
// record to tell what was filed.

// ImportOpen is the control socket request's part for "import".
type ImportOpen struct {
	Address string `json:"address"`
	Source  string `json:"source"`
}

type importHello struct {
	State          importer.State `json:"state"`
	MaxMessageSize int64          `json:"max_message_size"`
	Error          string         `json:"error,omitempty"`
	Kind           string         `json:"kind,omitempty"`
}

type importFrame struct {
	Folder   string          `json:"folder"`
	Validity uint32          `json:"validity,omitempty"`
	Dest     importer.Dest   `json:"dest"`
	Items    []importer.Item `json:"items"`
}

type importAck struct {
	Error string `json:"error,omitempty"`
	Kind  string `json:"kind,omitempty"`
}

// Frame bounds: what one batch may hold, and how long the server waits for
// the next batch before it gives up the import (the client reads the
// source meanwhile).
const (
	importFrameItems = 4096
	importIdle       = 10 * time.Minute
)

// OpenImport opens the resume state of source into the account addr, in
// its home region here, as the Sink an import files into.
func (s *Server) OpenImport(ctx context.Context, addr, source string) (*importer.Local, error) {
	const op = "server.OpenImport"
	svc, _, err := s.Router.Postbox(ctx, addr)
	if err != nil {
		return nil, errors.E(op, err)
	}
	l, err := importer.OpenLocal(ctx, svc, importer.StateDir(s.cfg.DataDir), addr, source)
	if err != nil {
		return nil, errors.E(op, err)
	}
	return l, nil
}

// budgetReader fails a read past its budget: one frame's bound.
type budgetReader struct {
	r    io.Reader
	left int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.E(errors.TooLarge, errors.Str("import frame too large"))
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// serveImport runs an import request on the control socket connection c.
func (s *Server) serveImport(c net.Conn, br io.Reader, open *ImportOpen) {
	enc := json.NewEncoder(c)
	fail := func(err error) { enc.Encode(importHello{Error: err.Error(), Kind: errors.KindOf(err).String()}) }
	if open == nil {
		fail(errors.E(errors.Invalid, errors.Str("import needs an address and a source")))
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, err := s.OpenImport(ctx, open.Address, open.Source)
	if err != nil {
		fail(err)
		return
	}
	defer l.Close()
	st, _ := l.State(ctx)
	if err := enc.Encode(importHello{State: st, MaxMessageSize: l.MaxMessageSize()}); err != nil {
		return
	}
	// A frame holds a batch: its messages' bytes, base64 in JSON, under
	// the client's bound (8 MiB or one message) and some room.
	bound := 2*l.MaxMessageSize() + 32<<20
	budget := &budgetReader{r: br}
	dec := json.NewDecoder(budget)
	for {
		c.SetDeadline(time.Now().Add(importIdle))
		budget.left = bound
		var f importFrame
		if err := dec.Decode(&f); err != nil {
			if err != io.EOF {
				enc.Encode(importAck{Error: "bad import frame: " + err.Error(), Kind: errors.Invalid.String()})
			}
			return
		}
		var ack importAck
		if len(f.Items) > importFrameItems {
			err = errors.E(errors.Invalid, errors.Str("too many messages in one import frame"))
		} else {
			err = l.Put(ctx, f.Folder, f.Validity, f.Dest, f.Items)
		}
		if err != nil {
			s.log.Warn("import batch failed", "kind", errors.KindOf(err).String())
			ack = importAck{Error: err.Error(), Kind: errors.KindOf(err).String()}
		}
		if err := enc.Encode(ack); err != nil || ack.Error != "" {
			return
		}
	}
}

// ImportClient is the Sink of an import run through a running server's
// control socket.
type ImportClient struct {
	conn  net.Conn
	enc   *json.Encoder
	dec   *json.Decoder
	hello importHello
}

var _ importer.Sink = (*ImportClient)(nil)

// Import starts an import of source into the account addr in the running
// server.
func (c *Ctl) Import(addr, source string) (*ImportClient, error) {
	const op = "server.Ctl.Import"
	conn, err := net.DialTimeout("unix", c.path, time.Second)
	if err != nil {
		return nil, errors.E(op, errors.Unavailable, err)
	}
	ic := &ImportClient{conn: conn, enc: json.NewEncoder(conn), dec: json.NewDecoder(bufio.NewReader(conn))}
	conn.SetDeadline(time.Now().Add(time.Minute))
	if err := ic.enc.Encode(ctlRequest{Op: "import", Import: &ImportOpen{Address: addr, Source: source}}); err != nil {
		conn.Close()
		return nil, errors.E(op, errors.Unavailable, err)
	}
	if err := ic.dec.Decode(&ic.hello); err != nil {
		conn.Close()
		return nil, errors.E(op, errors.Unavailable, err)
	}
	if ic.hello.Error != "" {
		conn.Close()
		return nil, errors.E(op, kindOf(ic.hello.Kind), errors.Str(ic.hello.Error))
	}
	return ic, nil
}

// kindOf is the Kind whose String is name (Other if none).
func kindOf(name string) errors.Kind {
	for k := errors.Other; k <= errors.OverQuota; k++ {
		if k.String() == name {
			return k
		}
	}
	return errors.Other
}

// State is the server's record of the source.
func (ic *ImportClient) State(context.Context) (importer.State, error) { return ic.hello.State, nil }

// MaxMessageSize is the server's.
func (ic *ImportClient) MaxMessageSize() int64 { return ic.hello.MaxMessageSize }

// Put sends a batch and waits until the server has filed and recorded it.
func (ic *ImportClient) Put(ctx context.Context, folder string, validity uint32, dest importer.Dest, items []importer.Item) error {
	const op = "server.ImportClient.Put"
	ic.conn.SetDeadline(time.Now().Add(importIdle))
	if err := ic.enc.Encode(importFrame{Folder: folder, Validity: validity, Dest: dest, Items: items}); err != nil {
		return errors.E(op, errors.Unavailable, err)
	}
	var ack importAck
	if err := ic.dec.Decode(&ack); err != nil {
		return errors.E(op, errors.Unavailable, err)
	}
	if ack.Error != "" {
		return errors.E(op, kindOf(ack.Kind), errors.Str(ack.Error))
	}
	return nil
}

// Close ends the import.
func (ic *ImportClient) Close() error { return ic.conn.Close() }
