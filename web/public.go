package web

import (
	"bytes"
	"context"
	_ "embed"
	"net/http"
	"net/url"
	"slices"
	"sync"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/transparency/report"
)

// This file is the public side of the transparency log: the log itself
// (C2SP tlog-tiles under /log/), the transparency report (/transparency,
// with CSV and JSON), the warrant canary (/canary), and the script the
// privacy page uses to check proofs.

//go:embed static/verify.js
var verifyJS []byte

// EnableTransparency adds the privacy page (/me…) and the public
// transparency pages (/log/, /transparency…, /canary, /static/verify.js)
// over o and l. Call it once, before serving.
func (s *Server) EnableTransparency(o Owners, l Log) {
	s.owners, s.tl = o, l
	s.me = newOwnerDoor(s.clock)
	s.routesPrivacy()
	s.routesPublic()
}

func (s *Server) routesPublic() {
	s.mux.Handle("/log/", http.StripPrefix("/log/", s.tl.Handler()))
	s.mux.HandleFunc("GET /static/verify.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(verifyJS)
	})
	s.mux.HandleFunc("GET /transparency", s.transparencyReport("html"))
	s.mux.HandleFunc("GET /transparency/report.csv", s.transparencyReport("csv"))
	s.mux.HandleFunc("GET /transparency/report.json", s.transparencyReport("json"))
	s.mux.HandleFunc("GET /canary", func(w http.ResponseWriter, r *http.Request) {
		st, lapsed := s.tl.Canary()
		if st == nil {
			http.Error(w, "No warrant canary has been issued.", http.StatusNotFound)
			return
		}
		// The body is the signed note exactly, so that anyone can check
		// its signature; whether it has lapsed is said beside it.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		if lapsed {
			w.Header().Set("Sealpost-Canary", "lapsed")
		} else {
			w.Header().Set("Sealpost-Canary", "current")
		}
		w.Write(st)
	})
}

// canaryPart is what the "canary" template shows.
type canaryPart struct {
	Statement string // the signed note, "" if none
	Lapsed    bool
}

// withCanary adds the warrant canary's section to the report page, before
// the end of its main element (report.WriteHTML writes a whole page).
func (s *Server) withCanary(page []byte) []byte {
	st, lapsed := s.tl.Canary()
	var c bytes.Buffer
	if err := pages.ExecuteTemplate(&c, "canary", canaryPart{Statement: string(st), Lapsed: lapsed}); err != nil {
		s.log.Error("web render", "page", "canary", "err", err)
		return page
	}
	i := bytes.LastIndex(page, []byte("</main>"))
	if i < 0 {
		if i = bytes.LastIndex(page, []byte("</body>")); i < 0 {
			i = len(page)
		}
	}
	return slices.Concat(page[:i], c.Bytes(), page[i:])
}

// reportCache keeps the reports computed from the latest checkpoint, so a
// public page costs one pass over the log per new checkpoint and period,
// not one per request; computations run one at a time.
type reportCache struct {
	mu      sync.Mutex
	cp      []byte
	reports map[string]*report.Report // by period name
}

func (c *reportCache) get(ctx context.Context, l Log, p report.Period) (*report.Report, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.Equal(c.cp, l.Checkpoint()) {
		if rep, ok := c.reports[p.Name]; ok {
			return rep, nil
		}
	}
	cp, entries, err := l.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	rep, err := report.Compute(cp, l.VerifierKey(), entries, p)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(c.cp, cp) {
		c.cp, c.reports = cp, map[string]*report.Report{}
	}
	if len(c.reports) < 64 { // periods asked for at one checkpoint
		c.reports[p.Name] = rep
	}
	return rep, nil
}

// transparencyReport serves the report for ?period= (default the current
// one) in format html, csv or json, computed afresh from the log's latest
// checkpoint and entries.
func (s *Server) transparencyReport(format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := report.CurrentPeriod(s.now())
		if q := r.URL.Query().Get("period"); q != "" {
			var err error
			if p, err = report.ParsePeriod(q); err != nil {
				// Not the period asked for: an error page never
				// repeats what the request said.
				http.Error(w, "No such period: a period is YYYY, YYYY-H1 or YYYY-H2.", http.StatusBadRequest)
				return
			}
		}
		rep, err := s.reports.get(r.Context(), s.tl, p)
		if err != nil {
			s.log.Error("web transparency report", "err", err)
			http.Error(w, "The report is not available just now.", http.StatusServiceUnavailable)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		switch format {
		case "csv":
			h.Set("Content-Type", "text/csv; charset=utf-8")
			h.Set("Content-Disposition", `attachment; filename="sealpost-transparency-`+p.Name+`.csv"`)
			w.Write(rep.CSV())
			return
		case "json":
			b, err := rep.JSON()
			if err != nil {
				writeError(w, s.log, errors.E("web.transparencyReport", errors.Internal, err))
				return
			}
			h.Set("Content-Type", "application/json")
			w.Write(b)
			return
		}
		q := "?period=" + url.QueryEscape(p.Name)
		var b bytes.Buffer
		if err := rep.WriteHTML(&b, report.HTMLOptions{Stylesheet: "/style.css",
			CSVHref: "/transparency/report.csv" + q, JSONHref: "/transparency/report.json" + q}); err != nil {
			s.log.Error("web transparency report", "err", err)
			http.Error(w, "The report is not available just now.", http.StatusServiceUnavailable)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", ownerCSP)
		w.Write(s.withCanary(b.Bytes()))
	}
}
