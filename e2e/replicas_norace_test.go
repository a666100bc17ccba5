//go:build !race

package e2e_test

// raceBuild: the tests run with the race detector, and so does the scrm
// binary the process-level tests build.
const raceBuild = false
