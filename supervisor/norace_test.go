//go:build !race

package supervisor

// raceEnabled: see race_test.go.
const raceEnabled = false
