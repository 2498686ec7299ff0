package bulwarkotel

import (
	"context"
	"errors"

	"github.com/bulwark-go/bulwark/supervisor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
)

// ObserveBreakers reports the state of each live circuit breaker of e as the observable
// gauge bulwark.breaker.state (attribute bulwark.name), read from e.Metrics() at each
// collection: 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled, 5 metrics only,
// the numbers of the Prometheus gauge bulwark_breaker_state. Breaker state changes belong
// to no call, so the Observer methods never see them; call ObserveBreakers once the
// engine exists (it is made with the Observer already installed). Unregister the result
// before or after e.Shutdown; after Shutdown the gauge reports the breakers no more.
// With metrics off it returns a Registration that does nothing. A nil e is an error.
func (o *Observer) ObserveBreakers(e *supervisor.Engine) (metric.Registration, error) {
	if e == nil {
		return nil, errors.New("bulwarkotel: ObserveBreakers: engine is nil")
	}
	if o.meter == nil {
		return metricnoop.Registration{}, nil
	}
	gauge := o.breakerState
	return o.meter.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		for name, st := range e.Metrics().Breakers {
			obs.ObserveInt64(gauge, int64(st.State), metric.WithAttributeSet(attribute.NewSet(keyName.String(name))))
		}
		return nil
	}, gauge)
}
