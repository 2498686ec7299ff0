package telemetry

import (
	"sync"

	"go.uber.org/zap"
)

// Warner logs each warning once per key. Build one with NewWarner.
type Warner struct {
	log  *zap.Logger
	seen sync.Map // keys already logged
}

// NewWarner returns a Warner that logs to log.
func NewWarner(log *zap.Logger) *Warner { return &Warner{log: log} }

// Once logs msg at Warn the first time key is seen.
func (w *Warner) Once(key, msg string, fields ...zap.Field) {
	if _, loaded := w.seen.LoadOrStore(key, struct{}{}); !loaded {
		w.log.Warn(msg, fields...)
	}
}
