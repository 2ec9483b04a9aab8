package testenv

import (
	"net/http"
	"testing"
	"time"
)

// TestStartS3 checks that the server answers, demands signed requests (an
// anonymous listing of buckets is refused, as S3 refuses it), and is gone
// after Stop.
func TestStartS3(t *testing.T) {
	srv := StartS3(t)
	if srv.Endpoint == "" || srv.AccessKey == "" || srv.SecretKey == "" {
		t.Fatalf("incomplete S3Server: %+v", srv)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + srv.Endpoint + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous GET /: %s, want 403", resp.Status)
	}
	srv.Stop()
	if resp, err := client.Get("http://" + srv.Endpoint + "/health"); err == nil {
		resp.Body.Close()
		t.Errorf("server still answers after Stop: %s", resp.Status)
	}
	srv.Stop() // harmless
}
