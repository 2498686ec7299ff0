// Package deploy holds what operators load next to a service that runs a bulwark
// engine, and the tests that keep it true to the engine's collector. It has no Go API.
//
//   - prometheus/bulwark-rules.yml: recording and alerting rules for every kind of
//     policy (circuit breakers, rate limiters, bulkheads, fallbacks, hedges, retry
//     budgets, shared names) and for the engine's actors; each alert says what to do.
//     prometheus/bulwark-rules.test.yml holds their promtool unit tests.
//   - grafana/bulwark.json: a Grafana dashboard over the same series, one row per kind,
//     with instance and name variables.
//
// The package's test runs `promtool check rules` and `promtool test rules` on the rules,
// wraps every query of the dashboard in a generated rules file so promtool parses it,
// and checks that every series the rules, their tests and the dashboard name is one the
// engine's collector (supervisor.Engine.Collector) exports. promtool comes with Debian's
// prometheus package; .ci/steps/20-promtool.sh installs it.
package deploy
