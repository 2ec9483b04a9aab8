package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sealpost/sealpost/legal/demand"
	"github.com/spf13/cobra"
)

// apiClient is `sealpost demand ... --api URL`: the same commands through
// a running server's JSON API (web package), as the officer given.
type apiClient struct {
	base, user, pass string
	c                *http.Client
}

func (f *legalFlags) apiClient(cmd *cobra.Command) (*apiClient, error) {
	if f.officer == "" {
		return nil, fmt.Errorf("--officer NAME is required: only legal officers act on demands")
	}
	pass, err := readPassword(cmd, f.passFile, "Officer password: ")
	if err != nil {
		return nil, err
	}
	return &apiClient{base: strings.TrimRight(f.api, "/"), user: f.officer, pass: pass, c: &http.Client{Timeout: 5 * time.Minute}}, nil
}

// withAPI runs fn with a client of the API at --api, as --officer.
func (f *legalFlags) withAPI(cmd *cobra.Command, fn func(*apiClient) error) error {
	a, err := f.apiClient(cmd)
	if err != nil {
		return err
	}
	return fn(a)
}

// do sends a request and decodes a JSON answer into out (or copies the
// body to out when it is an io.Writer). An error answer becomes an error
// holding the server's message and field errors.
func (a *apiClient) do(method, path string, body any, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, r)
	if err != nil {
		return err
	}
	req.SetBasicAuth(a.user, a.pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error, Message string
			Fields         []demand.FieldError
		}
		json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e)
		msg := e.Message
		if msg == "" {
			msg = e.Error
		}
		for _, fe := range e.Fields {
			msg += fmt.Sprintf("\n  %s: %s", fe.Field, fe.Message)
		}
		return fmt.Errorf("%s: %s", resp.Status, msg)
	}
	if w, ok := out.(io.Writer); ok {
		_, err = io.Copy(w, resp.Body)
		return err
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// fileViaAPI files a demand document and the documents it lists.
func (a *apiClient) fileViaAPI(path, docsDir string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := demand.Parse(data)
	if err != nil {
		return nil, err
	}
	files, err := readDocs(d, path, docsDir)
	if err != nil {
		return nil, err
	}
	docs := map[string]string{}
	for name, b := range files {
		docs[name] = base64.StdEncoding.EncodeToString(b)
	}
	raw, err := demand.Marshal(d)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	err = a.do("POST", "/api/v1/demands", map[string]any{"demand": json.RawMessage(raw), "documents": docs}, &out)
	return out, err
}
