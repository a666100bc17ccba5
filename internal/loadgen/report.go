package loadgen

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Report is the outcome of a run.
type Report struct {
	Env    EnvInfo
	Fanout []FanoutResult
	C2S    *C2SResult
}

// EnvInfo describes where and how the run happened.
type EnvInfo struct {
	Started         time.Time
	Cores           int
	CPUModel        string
	Kernel          string
	GoVersion       string
	Revision        string // of the scrm binary, from its build info
	DatabaseURL     string
	RedisURL        string
	PerProcess      int
	DialConcurrency int
	Events          int
	Interference    []string
}

func environment(o *Options) EnvInfo {
	e := EnvInfo{Started: time.Now(), Cores: runtime.NumCPU(), GoVersion: runtime.Version(),
		DatabaseURL: o.DatabaseURL, RedisURL: o.RedisURL, PerProcess: o.PerProcess,
		DialConcurrency: o.DialConcurrency, Events: o.Events}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				e.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" && modified == "true" {
			rev += " (with uncommitted changes)"
		}
		e.Revision = rev
	}
	if e.Revision == "" { // built without VCS stamping: ask git about the working directory
		if out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output(); err == nil {
			e.Revision = strings.TrimSpace(string(out))
			if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
				e.Revision += " (with uncommitted changes)"
			}
		}
	}
	return e
}

// FanoutResult is the fan-out phase for one N.
type FanoutResult struct {
	N     int
	Err   string // the phase failed; the figures gathered until then stay
	Procs int    // load processes

	Connected, ConnectFailed int
	ConnectSpan              time.Duration // first dial → last connection_ack
	ConnectRate              float64       // Connected / ConnectSpan

	RSSBefore      int64 // server, before any connection, idle
	RSSIdle        int64 // server, N subscribed, idle (Quiet)
	RSSAfterWarmup int64 // server, after the warm-up event(s), idle
	LoadRSS        int64 // every load process together, N connected
	Quiet          bool  // the server went quiet before RSSIdle was read

	WarmupRounds int
	Events       []EventResult
	Deliveries   int // receptions of the measured events
	CPU          CPUUse
	Lost         int // subscriptions or connections that ended
	Foreign      int // events published by other processes on the Redis (-1: not watched)
	ServerLog    string
}

// EventResult is one measured event.
type EventResult struct {
	Seq        int
	RTT        time.Duration // the mutation's HTTP round trip
	FanOut     time.Duration // mutation sent → last subscriber received
	FirstAfter time.Duration // mutation sent → first subscriber received
	Received   int
	TimedOut   bool
}

// CPUUse is CPU time used over a measured window.
type CPUUse struct {
	Wall        time.Duration
	Server      time.Duration // scrm serve
	Load        time.Duration // the load processes together
	DB          time.Duration // mariadbd/mysqld on this host (every client's work)
	Redis       time.Duration // redis-server on this host
	Coordinator time.Duration // this process: sending mutations, collecting reports
	Host        time.Duration // every core of the host busy, all processes
	DBFound     bool
	RedisFound  bool
}

// C2SResult is the commit-to-screen phase.
type C2SResult struct {
	Subs     int
	Rate     float64
	Duration time.Duration
	Err      string

	Sent, SendErrors int
	Late             int // sends that started more than 10ms after their slot
	AchievedRate     float64
	RTTs             []time.Duration // successful mutations' round trips

	Expected, Received int
	Hist               *Histogram // reception − send, every delivery
	Deliveries         int
	CPU                CPUUse
	Lost               int
	Foreign            int
	ServerLog          string
}

func (r FanoutResult) fanouts() []time.Duration {
	var d []time.Duration
	for _, e := range r.Events {
		d = append(d, e.FanOut)
	}
	return d
}

func (r FanoutResult) timedOut() int {
	n := 0
	for _, e := range r.Events {
		if e.TimedOut {
			n++
		}
	}
	return n
}

func perDelivery(d time.Duration, deliveries int) string {
	if deliveries == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", float64(d.Nanoseconds())/1e3/float64(deliveries))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Nanoseconds())/1e6) }

// Markdown renders the report: the tables, what each figure means, and
// per-N details.
func (r *Report) Markdown() string {
	var b strings.Builder
	e := r.Env
	fmt.Fprintf(&b, "## Realtime load: `ticketUpdated` over graphql-transport-ws, loopback\n\n")
	fmt.Fprintf(&b, "%s · %d cores (%s) · Linux %s · %s · scrm %s\n\n", e.Started.UTC().Format("2006-01-02 15:04 MST"),
		e.Cores, e.CPUModel, e.Kernel, e.GoVersion, orDash(e.Revision))
	fmt.Fprintf(&b, "Server under test: `scrm serve` (production mode, one process, worker off) on `%s`, Redis `%s`. "+
		"Load processes: at most %d connections each, %d connection attempts in flight each, on the same host.\n\n",
		redactURL(e.DatabaseURL), redisName(e.RedisURL), e.PerProcess, e.DialConcurrency)
	for _, w := range e.Interference {
		fmt.Fprintf(&b, "> **Warning:** %s\n\n", w)
	}
	if len(r.Fanout) > 0 {
		fmt.Fprintf(&b, "### Fan-out: N subscribers of one ticket, %d events one at a time\n\n", e.Events)
		b.WriteString("| N | connect rate (conn/s) | server RSS idle → N subscribed | RSS per idle subscription | fan-out median | fan-out worst | server CPU per delivery | MariaDB CPU per delivery | load CPU per delivery |\n")
		b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		flagged := false
		for _, f := range r.Fanout {
			if f.Err != "" && len(f.Events) == 0 {
				flagged = true
				fmt.Fprintf(&b, "| %d | %s | failed: %s ||||||| \n", f.N, rate(f), oneLine(f.Err))
				continue
			}
			fan := f.fanouts()
			worst := ms(Percentile(fan, 100)) + " ms"
			if n := f.timedOut(); n > 0 {
				worst = fmt.Sprintf("> %s ms (%d timed out)", ms(Percentile(fan, 100)), n)
			}
			db := "–"
			if f.CPU.DBFound {
				db = perDelivery(f.CPU.DB, f.Deliveries) + " µs"
			}
			flag := ""
			if trouble(f.Lost, f.Foreign, f.CPU) != "" || f.Err != "" {
				flag, flagged = " ⚠", true
			}
			fmt.Fprintf(&b, "| %d%s | %s | %s → %s | %s | %s ms | %s | %s µs | %s | %s µs |\n",
				f.N, flag, rate(f), mib(f.RSSBefore), mib(f.RSSIdle), kibPer(f.RSSIdle-f.RSSBefore, f.N),
				ms(Percentile(fan, 50)), worst, perDelivery(f.CPU.Server, f.Deliveries), db,
				perDelivery(f.CPU.Load, f.Deliveries))
		}
		b.WriteString("\n")
		if flagged {
			b.WriteString("⚠: see Details below.\n\n")
		}
	}
	if c := r.C2S; c != nil {
		fmt.Fprintf(&b, "### Commit-to-screen: %d subscribers of every ticket event, %g `createTicket`/s for %s\n\n", c.Subs, c.Rate, c.Duration)
		if c.Err != "" && c.Hist == nil {
			fmt.Fprintf(&b, "failed: %s\n\n", oneLine(c.Err))
		} else {
			b.WriteString("| subscribers | mutations/s (achieved) | deliveries received / expected | subscriptions ended | commit-to-screen p50 | p99 | max | mutation round trip p50 | p99 | server CPU per delivery | MariaDB CPU per delivery |\n")
			b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
			db := "–"
			if c.CPU.DBFound {
				db = perDelivery(c.CPU.DB, c.Deliveries) + " µs"
			}
			fmt.Fprintf(&b, "| %d | %g (%.1f) | %d / %d | %d | %s ms | %s ms | %s ms | %s ms | %s ms | %s µs | %s |\n\n",
				c.Subs, c.Rate, c.AchievedRate, c.Received, c.Expected, c.Lost,
				ms(c.Hist.Quantile(50)), ms(c.Hist.Quantile(99)), ms(time.Duration(c.Hist.Max)*time.Microsecond),
				ms(Percentile(c.RTTs, 50)), ms(Percentile(c.RTTs, 99)), perDelivery(c.CPU.Server, c.Deliveries), db)
		}
	}
	b.WriteString(definitions)
	b.WriteString("\n### Details\n\n")
	for _, f := range r.Fanout {
		fmt.Fprintf(&b, "- **N=%d**: %d load processes; %d connected", f.N, f.Procs, f.Connected)
		if f.ConnectFailed > 0 {
			fmt.Fprintf(&b, ", %d failed", f.ConnectFailed)
		}
		fmt.Fprintf(&b, " in %s", f.ConnectSpan.Round(time.Millisecond))
		if f.RSSIdle > 0 {
			fmt.Fprintf(&b, "; server RSS %s before, %s idle with N (%s), %s after the warm-up; load processes' RSS %s (%s per connection)",
				mib(f.RSSBefore), mib(f.RSSIdle), map[bool]string{true: "server quiet", false: "server NOT quiet after 60s"}[f.Quiet],
				mib(f.RSSAfterWarmup), mib(f.LoadRSS), kibPer(f.LoadRSS, f.Connected))
		}
		if f.WarmupRounds > 0 {
			fmt.Fprintf(&b, "; %d warm-up event(s)", f.WarmupRounds)
		}
		if len(f.Events) > 0 {
			var fan, firsts, rtts []string
			var rttv []time.Duration
			for _, ev := range f.Events {
				fan = append(fan, ms(ev.FanOut))
				firsts = append(firsts, ms(ev.FirstAfter))
				rtts = append(rtts, ms(ev.RTT))
				rttv = append(rttv, ev.RTT)
			}
			fmt.Fprintf(&b, "; fan-out per event (ms): %s; first reception (ms): %s; mutation round trip median %s ms",
				strings.Join(fan, " "), strings.Join(firsts, " "), ms(Percentile(rttv, 50)))
			fmt.Fprintf(&b, "; %s, for %d deliveries", cpuLine(f.CPU), f.Deliveries)
		}
		b.WriteString(trouble(f.Lost, f.Foreign, f.CPU))
		if f.Err != "" {
			fmt.Fprintf(&b, "; **failed: %s** (server log %s)", oneLine(f.Err), f.ServerLog)
		}
		b.WriteString("\n")
	}
	if c := r.C2S; c != nil {
		fmt.Fprintf(&b, "- **commit-to-screen**: %d mutations sent (%d failed, %d started >10 ms late)", c.Sent, c.SendErrors, c.Late)
		if c.Hist != nil {
			fmt.Fprintf(&b, "; latency min %s ms, mean %s ms, p90 %s ms, p99.9 %s ms",
				ms(time.Duration(c.Hist.Min)*time.Microsecond), ms(c.Hist.Mean()), ms(c.Hist.Quantile(90)), ms(c.Hist.Quantile(99.9)))
			fmt.Fprintf(&b, "; %s", cpuLine(c.CPU))
		}
		b.WriteString(trouble(c.Lost, c.Foreign, c.CPU))
		if c.Err != "" {
			fmt.Fprintf(&b, "; **failed: %s** (server log %s)", oneLine(c.Err), c.ServerLog)
		}
		b.WriteString("\n")
	}
	return b.String()
}

const definitions = `
What the figures are:

- **connect rate**: connections acknowledged per second, from the first dial to the last
  ` + "`connection_ack`" + ` over all load processes (WebSocket upgrade + ` + "`connection_init`" + ` with the token,
  which the server verifies and authorizes). Each connection then sends one ` + "`subscribe`" + `.
- **RSS per idle subscription**: (server VmRSS with N subscribed and idle − VmRSS before the first
  connection) / N. "Idle" = read after every connection is acknowledged and subscribed and the server
  has used ≤ 2% of a core for a second. One connection carries one subscription, so this is the cost of
  both; at small N it also carries one-off costs (the first subscription, caches) spread over few.
  Go returns freed memory to the OS lazily, so RSS is an upper bound of the live heap.
- **fan-out median / worst**: for each of the events, the time from sending the mutation (an HTTP
  ` + "`updateTicket`" + ` changing the ticket's title) to the last of the N subscribers receiving the event,
  as timestamped by the load processes (same host clock); median (nearest rank) and maximum over the
  events, sent one at a time. Before measuring, warm-up events prove every subscription is live.
- **CPU per delivery**: CPU time (utime + stime from /proc/<pid>/stat, 10 ms ticks) used over the
  measured events, divided by the deliveries (events × N). Server = ` + "`scrm serve`" + ` alone; it includes the
  mutations, the relay and idle work, amortised over N. MariaDB = the database server process on this
  host (per-delivery database reads land there; it also counts any other client's queries). Load = the
  load processes, which share the same cores; it shows how much the measuring itself takes.
- **commit-to-screen**: per delivery, reception time − the time the mutation was sent. The mutation
  commits after it is sent, so this is an upper bound of commit-to-screen (and excludes a browser's
  rendering). Mutations are sent on a fixed schedule (open loop); each creates a ticket (spreading the
  writes over rows; a delivery carries the ticket as loaded at delivery, so only a title that never
  changes again identifies its event), and every subscriber subscribes to every ticket event, so it
  receives every one. Percentiles are nearest-rank over every delivery received (histogram, within
  0.1%); deliveries that never arrive (e.g. a subscription the server ended because it fell behind)
  are not in them, hence received / expected and subscriptions ended beside them.
  **mutation round trip**: the HTTP request's duration.
`

// cpuLine lists the CPU used over a window; "other" is the rest of the
// host: processes that are not part of the bench but compete with it.
func cpuLine(c CPUUse) string {
	other := max(c.other(), 0)
	return fmt.Sprintf("CPU over the %s measured: server %s, MariaDB %s, Redis %s, load processes %s, coordinator %s, other processes %s (%.0f%% of a core)",
		c.Wall.Round(time.Millisecond), c.Server, c.DB, c.Redis, c.Load, c.Coordinator, other, 100*other.Seconds()/c.Wall.Seconds())
}

// other is the CPU used by processes that are not part of the bench.
func (c CPUUse) other() time.Duration {
	return c.Host - c.Server - c.Load - c.DB - c.Redis - c.Coordinator
}

// trouble flags what makes a row less trustworthy.
func trouble(lost, foreign int, c CPUUse) string {
	var b strings.Builder
	if lost > 0 {
		fmt.Fprintf(&b, "; **%d subscriptions or connections ended during the run**", lost)
	}
	if foreign > 0 {
		fmt.Fprintf(&b, "; **%d events published on the server's Redis by another process during the run** (see --redis-url)", foreign)
	}
	if other := c.other(); c.Wall > 0 && other.Seconds() > 0.1*c.Wall.Seconds() {
		fmt.Fprintf(&b, "; **other processes used %.0f%% of a core meanwhile**", 100*other.Seconds()/c.Wall.Seconds())
	}
	return b.String()
}

func rate(f FanoutResult) string {
	if f.ConnectRate == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", f.ConnectRate)
}

func kibPer(bytes int64, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f KiB", float64(bytes)/1024/float64(n))
}

func redisName(url string) string {
	switch url {
	case "":
		return "in-process"
	case PrivateRedis:
		return "a private redis-server per server"
	}
	return url
}

func orDash(s string) string { return orDefault(s, "–") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// redactURL drops a password from a database URL.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	if at < 0 {
		return u
	}
	cred := u[:at]
	scheme := ""
	if i := strings.Index(cred, "://"); i >= 0 {
		scheme, cred = cred[:i+3], cred[i+3:]
	}
	if user, _, ok := strings.Cut(cred, ":"); ok {
		return scheme + user + ":…" + u[at:]
	}
	return u
}
