package supervisor

import (
	"github.com/bulwark-go/bulwark/internal/pipeline"
	"github.com/bulwark-go/bulwark/internal/registry"
	"github.com/prometheus/client_golang/prometheus"
)

// WithBackend makes the engine build its named breakers and limiters with b instead of
// running every one in this process. It is how cluster mode plugs in: the module
// github.com/bulwark-go/bulwark/cluster builds this Option, and names whose policy is
// shared (AsShared) become replicas of an owner in the fleet, while the others stay
// local. Without it a shared name runs locally, with one warning per name. A backend
// that is also a prometheus.Collector adds its series to Engine.Collector. A nil b is an
// error.
func WithBackend(b registry.Backend) Option {
	return func(c *config) error {
		if b == nil {
			return pipeline.Invalid("", "WithBackend: backend is nil")
		}
		c.backend = b
		return nil
	}
}

// backendCollector is the engine's collector followed by its backend's series.
type backendCollector struct {
	engine, backend prometheus.Collector
}

// Describe sends both collectors' descriptions.
func (c backendCollector) Describe(ch chan<- *prometheus.Desc) {
	c.engine.Describe(ch)
	c.backend.Describe(ch)
}

// Collect sends both collectors' series.
func (c backendCollector) Collect(ch chan<- prometheus.Metric) {
	c.engine.Collect(ch)
	c.backend.Collect(ch)
}
