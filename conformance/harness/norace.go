//go:build !race

package harness

// raceBuild: this build runs under the race detector (EmbeddedConfig).
const raceBuild = false
