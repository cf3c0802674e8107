// Package benchmarks measures the proxy end to end over loopback: Go
// benchmarks (go test -bench . ./benchmarks) of one round trip through a
// passthrough route and through a translating route, reporting allocations
// per relayed frame; the side-by-side harness against nginx lives here too
// once it exists. Latest figures and the exact commands: RESULTS.md.
package benchmarks
