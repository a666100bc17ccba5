// Package routing decides which staff member a ticket goes to. Given a
// Pool (an in-memory snapshot of one tenant's staff, built by the caller
// from the database), a ticket type's Config and a Request describing the
// ticket, Route returns a ranking of staff IDs, best first, with a trace
// that explains every step in plain English.
//
// # What it owns
//
// The routing rules themselves: the filter steps (REGION, SKILLS, TEAM,
// FOLLOWER) and whether each is required, the availability rules every
// route applies (capacity, shift, exclusions), the two orderings
// (LEAST_LOADED with its CSAT and resolution-time weights, and
// ROUND_ROBIN), the validation of the JSON config stored per ticket
// type, and the explanation shown to supervisors (Decision.Explain).
//
// It does not own the staff data, the database or Redis, nor the clock:
// the caller builds the Pool, passes the time in Request.Now, and then
// walks Decision.Ranking, claiming a capacity slot atomically in the
// database and checking the fairness counter in Redis, and takes the
// first candidate for whom both succeed. When the ranking is empty the
// ticket goes to the team queue. Because the ranking may be stale by the
// time it is walked (another replica may have taken the last slot), it
// is a list of candidates, not a single pick.
//
// # Why it is hand-written
//
// Routing rules are our product logic: which steps exist, what "required"
// means, how CSAT and resolution time bend the least-loaded order, and
// what the explanation says are decisions we make and change with
// customers, so they live in plain Go we can read, test and explain
// rather than in a generated or third-party rules engine.
//
// # Speed
//
// NewPool indexes the staff by region, department and skill into sorted
// posting lists (with a bitmap for the dense ones), so Route narrows the
// candidates by intersecting those lists instead of scanning every staff
// member for every filter. It checks capacity and calls Staff.OnShift
// only for the members that survive the filters, and keeps the best
// Limit with a bounded heap rather than sorting every candidate. With a
// typical config, routing one ticket among 30,000 staff takes tens of
// microseconds; a config without filters, which has to look at every
// member, stays under a millisecond (BenchmarkRoute).
//
// A Pool is immutable once built; any number of goroutines may call
// Route on it at once.
package routing
