// Package loadgen is the realtime load tool behind `scrm bench realtime`
// (and `make bench-realtime`): it measures how live updates
// (subscriptions over graphql-transport-ws) scale with the number of
// subscribers on one machine, through the real stack — WebSocket upgrade,
// connection_init with a staff token, subscribe, events made by real
// GraphQL mutations over HTTP, committed, relayed through Redis and fanned
// out by the server.
//
// # Processes
//
// The coordinator (Run) starts, for each subscriber count N, a fresh
// `scrm serve` as a child process (production mode, worker off, on a free
// loopback port, with the bench database and Redis), so it knows the
// server's pid and reads its CPU (/proc/<pid>/stat, utime+stime) and
// resident memory (/proc/<pid>/status, VmRSS). It mints a token with
// `scrm token` and starts ceil(N/PerProcess) load processes
// (`scrm bench realtime-client`, RunClient): a process may hold at most
// 20,000 file descriptors here, and the server itself needs one per
// connection. Each load process opens its share of connections, one
// subscription each, and reports to the coordinator as JSON lines on its
// stdout (Msg); the coordinator commands it on its stdin.
//
// A load process does as little as possible per message, so that it
// distorts the measurement little on the cores it shares with the server:
// it reads the frame into a reused buffer, takes time.Now(), finds the
// frame's type and the event number in the ticket's title by byte search
// (Scan) without decoding the JSON, and counts the reception with atomics.
// All processes stamp times with the same host clock, so a reception time
// minus the coordinator's send time is a latency.
//
// # What is measured
//
// For each N (runFanout):
//   - connect rate: connections acknowledged per second, from the first
//     dial to the last connection_ack, all load processes together;
//   - memory per idle subscription: server RSS once all N are subscribed
//     and the server is idle, minus its RSS before the first connection,
//     divided by N;
//   - warm-up: events are sent until every subscription has received one
//     (graphql-transport-ws does not acknowledge a subscribe, so this is
//     the proof that each is live);
//   - fan-out: Events events, one at a time, each a mutation changing the
//     ticket's title: the time from sending it to the last of the N
//     receptions; median and worst;
//   - CPU per delivery: the server's CPU over those events divided by
//     events × N (and likewise the database server's and the load
//     processes', for context).
//
// Then commit-to-screen (runC2S): C2SSubs subscribers of C2STickets
// tickets, mutations of those tickets sent on a fixed schedule at C2SRate
// per second for C2SDuration; per delivery, reception time − send time
// (an upper bound of commit-to-screen: the commit follows the send),
// p50/p99 over every delivery, and the mutations' round trips.
//
// The Report renders as Markdown, with what each figure means.
package loadgen
