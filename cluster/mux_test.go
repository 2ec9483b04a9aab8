package cluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// node is a regional node's internal listener for tests: a Mux whose IMAP
// sub-listener runs an echo server that first says the client's address,
// and whose HTTP sub-listener answers with the peer's node name.
type node struct {
	mux  *Mux
	addr string

	mu       sync.Mutex
	accepted []string // RemoteAddr of every IMAP connection handed out
}

func startNode(t *testing.T, p *pki, opts MuxOptions) *node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux, err := NewMux(ln, p.server(t, "region-ie"), opts)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{mux: mux, addr: ln.Addr().String()}
	imapLn := mux.Listener(ProtoIMAP)
	httpLn := mux.Listener(ProtoHTTP)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := mux.Serve(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	go func() {
		defer wg.Done()
		for {
			c, err := imapLn.Accept()
			if err != nil {
				return
			}
			n.mu.Lock()
			n.accepted = append(n.accepted, c.RemoteAddr().String())
			n.mu.Unlock()
			go func() {
				defer c.Close()
				io.WriteString(c, "* OK hello "+c.RemoteAddr().String()+"\r\n")
				io.Copy(c, c)
			}()
		}
	}()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "peer="+PeerName(r.TLS))
	})}
	go func() {
		defer wg.Done()
		srv.Serve(httpLn)
	}()
	t.Cleanup(func() {
		srv.Close()
		mux.Close()
		wg.Wait()
	})
	return n
}

func (n *node) wasAccepted(remote string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range n.accepted {
		if a == remote {
			return true
		}
	}
	return false
}

// dialIMAP dials the node's IMAP protocol, writes a PROXY header for
// client, and returns the first line the echo server says.
func dialIMAP(t *testing.T, n *node, cfg *tls.Config, client string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := Dial(context.Background(), n.addr, ProtoIMAP, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second)) // a hang guard, not an assertion
	src, err := net.ResolveTCPAddr("tcp", client)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteProxyHeader(c, src, c.RemoteAddr()); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

func TestMuxIMAP(t *testing.T) {
	p := newPKI(t, "region-ie", "frontdoor")
	n := startNode(t, p, MuxOptions{})
	c, r := dialIMAP(t, n, p.client(t, "frontdoor", "region-ie"), "203.0.113.9:4242")
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if line != "* OK hello 203.0.113.9:4242\r\n" {
		t.Errorf("greeting %q: the backend does not see the client's address", line)
	}
	io.WriteString(c, "a NOOP\r\n")
	if line, err := r.ReadString('\n'); err != nil || line != "a NOOP\r\n" {
		t.Errorf("echo: %q, %v", line, err)
	}
	// Half-close: the client's close_notify ends the server's copy, which
	// then closes its side.
	c.(*tls.Conn).CloseWrite()
	if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
		t.Errorf("after CloseWrite: %q, %v", rest, err)
	}
}

func TestMuxProxyUnknown(t *testing.T) {
	p := newPKI(t, "region-ie", "frontdoor")
	n := startNode(t, p, MuxOptions{})
	c, err := Dial(context.Background(), n.addr, ProtoIMAP, p.client(t, "frontdoor", "region-ie"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "PROXY UNKNOWN\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	// Without addresses the link's own is reported.
	if want := "* OK hello " + c.LocalAddr().String() + "\r\n"; line != want {
		t.Errorf("got %q, want %q", line, want)
	}
}

func TestMuxHTTPPeerName(t *testing.T) {
	p := newPKI(t, "region-ie", "frontdoor")
	n := startNode(t, p, MuxOptions{})
	cfg := p.client(t, "frontdoor", "region-ie")
	client := &http.Client{Transport: &http.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return Dial(ctx, addr, ProtoHTTP, cfg)
		},
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + n.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "peer=frontdoor" {
		t.Errorf("handler saw %q, want peer=frontdoor", body)
	}
}

// refused reports whether the node closed c without a word: a read gets
// an error or EOF, never data.
func refused(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(30 * time.Second)) // a hang guard
	b := make([]byte, 64)
	n, err := c.Read(b)
	if err == nil || n > 0 {
		t.Errorf("read %q, %v: the node did not refuse the connection", b[:n], err)
	}
}

func TestMuxRefuses(t *testing.T) {
	p := newPKI(t, "region-ie", "frontdoor")
	other := newPKI(t, "frontdoor") // another deployment's CA and node
	n := startNode(t, p, MuxOptions{})
	good := p.client(t, "frontdoor", "region-ie")

	t.Run("other CA", func(t *testing.T) {
		// The client trusts our CA but presents a certificate of another.
		crt, key := other.files("frontdoor")
		pair, err := tls.LoadX509KeyPair(crt, key)
		if err != nil {
			t.Fatal(err)
		}
		cfg := good.Clone()
		cfg.Certificates = []tls.Certificate{pair}
		// In TLS 1.3 the client finishes its handshake before the server
		// has checked its certificate: the refusal shows on the first read.
		c, err := Dial(context.Background(), n.addr, ProtoIMAP, cfg)
		if err == nil {
			defer c.Close()
			WriteProxyHeader(c, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 66), Port: 1111}, c.LocalAddr())
			refused(t, c)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		cfg := good.Clone()
		cfg.Certificates = nil
		cfg.NextProtos = []string{ProtoIMAP}
		c, err := tls.Dial("tcp", n.addr, cfg)
		if err == nil {
			defer c.Close()
			WriteProxyHeader(c, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 66), Port: 1112}, c.LocalAddr())
			refused(t, c)
		}
	})
	t.Run("server from another CA", func(t *testing.T) {
		// The front door refuses a node that our CA did not certify.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		crt, key := other.files("frontdoor")
		pair, _ := tls.LoadX509KeyPair(crt, key)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			tls.Server(c, &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: protocols}).Handshake()
		}()
		if c, err := Dial(context.Background(), ln.Addr().String(), ProtoIMAP, p.client(t, "frontdoor", "frontdoor")); err == nil {
			c.Close()
			t.Error("Dial accepted a server certified by another CA")
		}
	})
	t.Run("no ALPN", func(t *testing.T) {
		cfg := good.Clone()
		c, err := tls.Dial("tcp", n.addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		WriteProxyHeader(c, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 66), Port: 1113}, c.LocalAddr())
		refused(t, c)
	})
	t.Run("unknown ALPN", func(t *testing.T) {
		if c, err := Dial(context.Background(), n.addr, "sealpost-pop3/1", good); err == nil {
			c.Close()
			t.Error("Dial with an unknown protocol succeeded")
		}
	})
	t.Run("protocol not served", func(t *testing.T) {
		// The node never asked for a submission listener.
		c, err := Dial(context.Background(), n.addr, ProtoSubmission, good)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		WriteProxyHeader(c, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 66), Port: 1114}, c.LocalAddr())
		refused(t, c)
	})
	t.Run("no PROXY header", func(t *testing.T) {
		c, err := Dial(context.Background(), n.addr, ProtoIMAP, good)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "a LOGIN alice secret\r\n")
		refused(t, c)
	})
	t.Run("bad PROXY header", func(t *testing.T) {
		c, err := Dial(context.Background(), n.addr, ProtoIMAP, good)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "PROXY TCP4 192.0.2.66 1.2.3.4 01115 1\r\n")
		refused(t, c)
	})

	// A good client still gets through, and none of the refused ones was
	// ever handed to the server.
	_, r := dialIMAP(t, n, good, "192.0.2.66:2000")
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "* OK hello 192.0.2.66:2000") {
		t.Fatalf("good client: %q, %v", line, err)
	}
	for _, port := range []string{"1111", "1112", "1113", "1114", "1115"} {
		if n.wasAccepted("192.0.2.66:" + port) {
			t.Errorf("connection from port %s was handed to the server", port)
		}
	}
}

// TestMuxSlowHandshake checks that a client that never speaks holds up
// nobody, and is closed after the handshake timeout.
func TestMuxSlowHandshake(t *testing.T) {
	p := newPKI(t, "region-ie", "frontdoor")
	n := startNode(t, p, MuxOptions{HandshakeTimeout: 200 * time.Millisecond})
	silent, err := net.Dial("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// A silent client who completed the handshake but sends no header.
	mute, err := Dial(context.Background(), n.addr, ProtoIMAP, p.client(t, "frontdoor", "region-ie"))
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()

	_, r := dialIMAP(t, n, p.client(t, "frontdoor", "region-ie"), "192.0.2.7:7")
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "* OK hello 192.0.2.7:7") {
		t.Fatalf("client behind a silent one: %q, %v", line, err)
	}
	refused(t, silent)
	refused(t, mute)
}

func TestMuxClose(t *testing.T) {
	p := newPKI(t, "region-ie", "frontdoor")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux, err := NewMux(ln, p.server(t, "region-ie"), MuxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sub := mux.Listener(ProtoIMAP)
	done := make(chan error, 1)
	go func() { done <- mux.Serve() }()
	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// Wait until the Mux holds the connection in its handshake.
	for {
		mux.mu.Lock()
		k := len(mux.conns)
		mux.mu.Unlock()
		if k > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := mux.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
	if _, err := sub.Accept(); err == nil {
		t.Error("sub-listener Accept after Close succeeded")
	}
	refused(t, silent)
}

func TestNewMuxNeedsClientAuth(t *testing.T) {
	p := newPKI(t, "region-ie")
	cfg := p.server(t, "region-ie")
	cfg.ClientAuth = tls.RequestClientCert
	if _, err := NewMux(nil, cfg, MuxOptions{}); err == nil {
		t.Error("NewMux accepted a configuration without client authentication")
	}
}

func TestMuxUnknownProtocolPanics(t *testing.T) {
	p := newPKI(t, "region-ie")
	mux, err := NewMux(nil, p.server(t, "region-ie"), MuxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("Listener of an unknown protocol did not panic")
		}
	}()
	mux.Listener("smtp")
}
