package cluster

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

func TestParseProxyHeader(t *testing.T) {
	for _, tc := range []struct {
		line     string
		src, dst string // "" for UNKNOWN
		ok       bool
	}{
		{"PROXY TCP4 192.0.2.1 198.51.100.7 51234 993\r\n", "192.0.2.1:51234", "198.51.100.7:993", true},
		{"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", "255.255.255.255:65535", "255.255.255.255:65535", true},
		{"PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", "0.0.0.0:0", "0.0.0.0:0", true},
		{"PROXY TCP6 2001:db8::1 2001:db8::2 4242 143\r\n", "[2001:db8::1]:4242", "[2001:db8::2]:143", true},
		{"PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n", "192.0.2.1:1", "[::1]:2", true},
		{"PROXY UNKNOWN\r\n", "", "", true},
		{"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n", "", "", true},
		// The longest legal header (spec 2.1) is 107 bytes.
		{"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
			"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", true},

		{"", "", "", false},
		{"\r\n", "", "", false},
		{"PROXY TCP4 192.0.2.1 198.51.100.7 51234 993\n", "", "", false},
		{"PROXY TCP4 192.0.2.1 198.51.100.7 51234 993", "", "", false},
		{"PROXY TCP4 192.0.2.1 198.51.100.7 51234 993\r\n\r\n", "", "", false},
		{"PROXY  TCP4 192.0.2.1 198.51.100.7 51234 993\r\n", "", "", false},
		{"PROXY TCP4 192.0.2.1  198.51.100.7 51234 993\r\n", "", "", false},
		{"PROXY TCP4 192.0.2.1 198.51.100.7 51234 993 \r\n", "", "", false},
		{"proxy TCP4 192.0.2.1 198.51.100.7 51234 993\r\n", "", "", false},
		{"PROXY TCP5 192.0.2.1 198.51.100.7 51234 993\r\n", "", "", false},
		{"PROXY TCP4 2001:db8::1 198.51.100.7 51234 993\r\n", "", "", false},
		{"PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n", "", "", false},
		{"PROXY TCP6 fe80::1%eth0 2001:db8::2 1 2\r\n", "", "", false},
		{"PROXY TCP4 192.0.2.01 198.51.100.7 51234 993\r\n", "", "", false},
		{"PROXY TCP4 192.0.2.1 198.51.100.7 65536 993\r\n", "", "", false},
		{"PROXY TCP4 192.0.2.1 198.51.100.7 051234 993\r\n", "", "", false},
		{"PROXY TCP4 192.0.2.1 198.51.100.7 +1 993\r\n", "", "", false},
		{"PROXY TCP4 192.0.2.1 198.51.100.7 -1 993\r\n", "", "", false},
		{"PROXY TCP4 192.0.2.1 198.51.100.7 51234\r\n", "", "", false},
		{"PROXY UNKNOWNX\r\n", "", "", false},
		{"PROXY TCP4 192.0.2.1 198.51.100.7 1 2\r3\r\n", "", "", false},
		{"PROXY UNKNOWN " + strings.Repeat("x", 100) + "\r\n", "", "", false}, // too long
	} {
		src, dst, err := ParseProxyHeader([]byte(tc.line))
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok %v", tc.line, err, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		if tc.src == "" {
			if src != nil || dst != nil {
				t.Errorf("%q: got %v %v, want nil addresses", tc.line, src, dst)
			}
			continue
		}
		if src.String() != tc.src || dst.String() != tc.dst {
			t.Errorf("%q: got %v %v, want %v %v", tc.line, src, dst, tc.src, tc.dst)
		}
	}
}

func TestWriteProxyHeader(t *testing.T) {
	tcp := func(s string) *net.TCPAddr {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tc := range []struct {
		src, dst net.Addr
		want     string
	}{
		{tcp("192.0.2.1:51234"), tcp("198.51.100.7:993"), "PROXY TCP4 192.0.2.1 198.51.100.7 51234 993\r\n"},
		{tcp("[2001:db8::1]:4242"), tcp("[2001:db8::2]:143"), "PROXY TCP6 2001:db8::1 2001:db8::2 4242 143\r\n"},
		// An IPv4-mapped address is written as IPv4.
		{tcp("[::ffff:192.0.2.1]:1"), tcp("198.51.100.7:2"), "PROXY TCP4 192.0.2.1 198.51.100.7 1 2\r\n"},
		// Mixed families are written as IPv6.
		{tcp("192.0.2.1:1"), tcp("[2001:db8::2]:2"), "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 1 2\r\n"},
		{&net.UnixAddr{Name: "/x", Net: "unix"}, tcp("198.51.100.7:2"), "PROXY UNKNOWN\r\n"},
		{nil, nil, "PROXY UNKNOWN\r\n"},
		{(*net.TCPAddr)(nil), tcp("198.51.100.7:2"), "PROXY UNKNOWN\r\n"},
	} {
		var b bytes.Buffer
		if err := WriteProxyHeader(&b, tc.src, tc.dst); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("WriteProxyHeader(%v, %v) = %q, want %q", tc.src, tc.dst, b.String(), tc.want)
		}
		if _, _, err := ParseProxyHeader(b.Bytes()); err != nil {
			t.Errorf("%q does not parse: %v", b.String(), err)
		}
	}
}

func TestReadProxyHeaderConsumesOnlyHeader(t *testing.T) {
	r := strings.NewReader("PROXY TCP4 192.0.2.1 198.51.100.7 1 2\r\na1 LOGIN x y\r\n")
	src, _, err := readProxyHeader(r)
	if err != nil {
		t.Fatal(err)
	}
	if src.String() != "192.0.2.1:1" {
		t.Errorf("src %v", src)
	}
	if rest := r.Len(); rest != len("a1 LOGIN x y\r\n") {
		t.Errorf("%d bytes left after the header", rest)
	}
	// A line that never ends is cut at 107 bytes.
	long := strings.NewReader(strings.Repeat("P", 500))
	if _, _, err := readProxyHeader(long); err == nil {
		t.Error("endless header accepted")
	}
	if long.Len() != 500-maxProxyHeader {
		t.Errorf("read %d bytes of an endless header", 500-long.Len())
	}
}

// FuzzParseProxyHeader checks that the parser never panics, and that what
// it accepts survives a write and a second parse unchanged.
func FuzzParseProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.1 198.51.100.7 51234 993\r\n"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 2001:db8::2 4242 143\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		src, dst, err := ParseProxyHeader(line)
		if err != nil || src == nil {
			return
		}
		if len(line) > maxProxyHeader {
			t.Fatalf("accepted a %d-byte header", len(line))
		}
		var b bytes.Buffer
		WriteProxyHeader(&b, src, dst)
		src2, dst2, err := ParseProxyHeader(b.Bytes())
		if err != nil {
			t.Fatalf("%q → %q: %v", line, b.String(), err)
		}
		if !src2.IP.Equal(src.IP) || src2.Port != src.Port || !dst2.IP.Equal(dst.IP) || dst2.Port != dst.Port {
			t.Fatalf("%q → %q: %v %v, want %v %v", line, b.String(), src2, dst2, src, dst)
		}
	})
}
