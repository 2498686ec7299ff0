package supervisor

import (
	"time"

	"go.uber.org/zap"
)

// logCircuitOpen logs, at Debug, a call refused by the open breaker named breaker. It
// costs one level check and no allocation when Debug is disabled.
func (c *call) logCircuitOpen(breaker string, retryAfter time.Duration) {
	if ce := c.e.log.Check(zap.DebugLevel, "circuit open"); ce != nil {
		ce.Write(zap.String("op", c.id), zap.String("breaker", breaker), zap.Duration("retry_after", retryAfter))
	}
}
