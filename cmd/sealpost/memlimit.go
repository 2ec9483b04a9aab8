package main

import (
	"log/slog"
	"runtime/debug"

	"github.com/sealpost/sealpost/config"
)

// applyMemoryLimit sets the Go runtime's soft memory limit from
// limits.memory_limit, if set (else the runtime keeps GOMEMLIMIT's, or
// none). It is the process's, so the main sets it, once, before serving.
func applyMemoryLimit(c config.Config, log *slog.Logger) {
	if c.Limits.MemoryLimit <= 0 {
		return
	}
	debug.SetMemoryLimit(c.Limits.MemoryLimit)
	log.Info("memory limit", "bytes", c.Limits.MemoryLimit)
}
