package legal

import (
	"encoding/json"
	"testing"
)

func TestDateJSON(t *testing.T) {
	d, err := ParseDate("2026-10-05")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(struct {
		D Date  `json:"d"`
		P *Date `json:"p"`
		N *Date `json:"n,omitempty"`
	}{D: d, P: &d})
	if err != nil || string(b) != `{"d":"2026-10-05","p":"2026-10-05"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var back struct {
		D Date  `json:"d"`
		P *Date `json:"p"`
	}
	if err := json.Unmarshal(b, &back); err != nil || !back.D.Equal(d.Time) || back.P == nil || !back.P.Equal(d.Time) {
		t.Fatalf("Unmarshal = %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"d":"2026-13-01"}`), &back); err == nil {
		t.Error("a bad date was accepted")
	}
}
