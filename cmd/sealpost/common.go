package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/mlog"
	"github.com/spf13/cobra"
)

// configFlags are the flags that choose a configuration: a TOML file, or a
// bare data folder (the demo's).
type configFlags struct {
	path string
	data string
}

func (f *configFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.path, "config", "", "configuration file (TOML)")
	cmd.Flags().StringVar(&f.data, "data", "", "data folder of a demo or a config-less install (instead of --config)")
}

// load returns the configuration the flags name.
func (f *configFlags) load() (config.Config, error) {
	switch {
	case f.path != "" && f.data != "":
		return config.Config{}, fmt.Errorf("give --config or --data, not both")
	case f.path != "":
		return config.Load(f.path)
	case f.data != "":
		c := demoConfig(f.data)
		return c, c.Validate()
	}
	return config.Config{}, fmt.Errorf("--config FILE or --data DIR is required")
}

func newLogger(c config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Log.Level))
	return mlog.New(w, level, c.Log.Format == "json")
}

// readPassword reads a password: from the named file, or from standard
// input (one line), prompting when standard input is a terminal.
func readPassword(cmd *cobra.Command, file, prompt string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		fmt.Fprint(cmd.ErrOrStderr(), prompt)
	}
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("reading password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
