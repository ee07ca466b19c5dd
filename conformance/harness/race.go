//go:build race

package harness

// raceBuild: this build runs under the race detector, which makes the suite and the embedded
// server several times slower (EmbeddedConfig).
const raceBuild = true
