package metrics

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// Scrape GETs url (a /metrics endpoint) as a Prometheus scraper would and
// returns the parsed families and the text served. Tests and tools use it.
func Scrape(url string) (Families, string, error) {
	const op = "metrics.Scrape"
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return nil, "", errors.E(op, errors.Unavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, "", errors.E(op, errors.Unavailable, err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/plain") {
		return nil, "", errors.E(op, errors.Invalid, fmt.Errorf("GET %s: %s, %s", url, resp.Status, ct))
	}
	f, err := Parse(bytes.NewReader(body))
	if err != nil {
		return nil, "", errors.E(op, err)
	}
	return f, string(body), nil
}

// NameNoOne returns an error if a label value of the scrape f holds an
// address, or its text body any of names (accounts, domains, folders
// someone used): metrics count, they never say whose.
func NameNoOne(f Families, body string, names ...string) error {
	for _, v := range f.LabelValues() {
		if strings.Contains(v, "@") {
			return fmt.Errorf("label value %q holds an address", v)
		}
	}
	for _, s := range names {
		if strings.Contains(body, s) {
			return fmt.Errorf("/metrics mentions %q", s)
		}
	}
	return nil
}
