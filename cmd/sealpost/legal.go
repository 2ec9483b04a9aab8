package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sealpost/sealpost/legal"
	"github.com/sealpost/sealpost/legal/gateway"
	"github.com/sealpost/sealpost/legal/workflow"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

// legalFlags are what every `demand` command takes: where the data is, and
// the legal officer acting.
type legalFlags struct {
	configFlags
	officer  string
	passFile string
	now      string
	api      string
}

func (f *legalFlags) register(cmd *cobra.Command, acts bool) {
	f.configFlags.register(cmd)
	if acts {
		cmd.Flags().StringVar(&f.officer, "officer", "", "the legal officer acting (password from standard input or --password-file)")
		cmd.Flags().StringVar(&f.passFile, "password-file", "", "read the officer's password from this file")
		cmd.Flags().StringVar(&f.api, "api", "", "act through a running server's API at this URL (e.g. http://127.0.0.1:8080) instead of its data folder")
	}
	cmd.Flags().StringVar(&f.now, "now", "", "act as if today were this date (YYYY-MM-DD), for tests and dry runs")
	cmd.Flags().MarkHidden("now")
}

// withGateway opens the data folder and the gateway (the server stopped),
// checks the officer's credentials when acts, and runs f.
func withGateway(cmd *cobra.Command, f *legalFlags, acts bool, fn func(context.Context, *server.Server, *gateway.Gateway, workflow.Actor) error) error {
	var pass string
	if acts {
		if f.officer == "" {
			return fmt.Errorf("--officer NAME is required: only legal officers act on demands")
		}
		var err error
		if pass, err = readPassword(cmd, f.passFile, "Officer password: "); err != nil {
			return err
		}
	}
	return withServer(cmd, &f.configFlags, func(ctx context.Context, srv *server.Server) error {
		gw, err := srv.OpenGateway()
		if err != nil {
			return err
		}
		defer gw.Store().Close()
		if f.now != "" {
			d, err := legal.ParseDate(f.now)
			if err != nil {
				return fmt.Errorf("--now: %v", err)
			}
			gw.SetNow(func() time.Time { return d.Time.Add(12 * time.Hour) })
		}
		var actor workflow.Actor
		if acts {
			if actor, err = gw.Officer(ctx, f.officer, pass); err != nil {
				return fmt.Errorf("not a legal officer, or a wrong password")
			}
		}
		return fn(ctx, srv, gw, actor)
	})
}

// readDemand reads a demand document and the documents it lists.
func readDemand(gw *gateway.Gateway, path, docsDir string) (legal.Demand, map[string][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return legal.Demand{}, nil, err
	}
	d, err := gw.Parse(data)
	if err != nil {
		return d, nil, err
	}
	docs, err := readDocs(d, path, docsDir)
	return d, docs, err
}

// readDocs reads the documents a demand lists from docsDir (default: the
// demand file's folder, then its documents/ subfolder).
func readDocs(d legal.Demand, path, docsDir string) (map[string][]byte, error) {
	dirs := []string{docsDir}
	if docsDir == "" {
		dirs = []string{filepath.Dir(path), filepath.Join(filepath.Dir(path), "documents")}
	}
	docs := map[string][]byte{}
	for _, doc := range d.Documents {
		var b []byte
		var err error
		for _, dir := range dirs {
			if b, err = os.ReadFile(filepath.Join(dir, doc.Name)); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("document %s: %v", doc.Name, err)
		}
		docs[doc.Name] = b
	}
	return docs, nil
}
