// Package syncbench benchmarks the path of one order (ARCHITECTURE.md) on
// MariaDB and a real Redis: the backfill rate of the order pull (pull walk
// → one shop:order task per change → order detail fetch → ordersync.Store)
// and the latency from a Douyin push to the order event reaching a
// realtime subscriber. The benchmarks live in the package's tests and run
// only with -bench (make bench-sync); see README.md, "Benchmarks".
package syncbench
