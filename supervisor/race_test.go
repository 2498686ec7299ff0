//go:build race

package supervisor

// raceEnabled: the race detector makes sync.Pool drop a quarter of what is put back,
// so allocation counts of pooled paths are not exact.
const raceEnabled = true
