package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configure a run of the realtime benchmark.
type Options struct {
	Exe      string   // the scrm binary: serve, token and the load processes
	ExtraEnv []string // added to every child's environment

	DatabaseURL string   // the bench database, migrated and seeded with the demo data
	RedisURL    string   // PrivateRedis, a redis:// URL, or "" for the server's in-process Redis
	ServerEnv   []string // extra KEY=VALUE for the server under test
	Tenant      string   // whose events (demo)
	User        string   // who subscribes and mutates (admin: sees every ticket)

	Ns           []int         // subscriber counts of the fan-out phase
	Events       int           // measured events per N
	EventTimeout time.Duration // wait for one event to reach every subscriber
	WarmupRounds int           // warm-up events sent at most, until every subscription has one
	Settle       time.Duration // least idle time before reading idle memory

	PerProcess      int // connections per load process
	DialConcurrency int // connection attempts in flight per load process

	C2SSubs     int // subscribers of the commit-to-screen phase (0 skips it)
	C2SRate     float64
	C2SDuration time.Duration

	LogDir string    // server logs (a temporary directory when empty)
	Log    io.Writer // progress
}

func (o *Options) defaults() error {
	if o.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.Exe = exe
	}
	if o.Tenant == "" {
		o.Tenant = "demo"
	}
	if o.User == "" {
		o.User = "admin"
	}
	if o.Events <= 0 {
		o.Events = 20
	}
	if o.EventTimeout <= 0 {
		o.EventTimeout = 2 * time.Minute
	}
	if o.WarmupRounds <= 0 {
		o.WarmupRounds = 3
	}
	if o.PerProcess <= 0 {
		o.PerProcess = 5000
	}
	if o.DialConcurrency <= 0 {
		o.DialConcurrency = 100
	}
	if o.C2SSubs > 0 && (o.C2SRate <= 0 || o.C2SDuration <= 0) {
		return errors.New("the commit-to-screen phase needs a positive rate and duration")
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	o.Log = &syncWriter{w: o.Log} // written from several goroutines
	if o.LogDir == "" {
		dir, err := os.MkdirTemp("", "scrm-bench-rt-")
		if err != nil {
			return err
		}
		o.LogDir = dir
	}
	return os.MkdirAll(o.LogDir, 0o755)
}

// Run runs the benchmark: the fan-out phase for each N, then the
// commit-to-screen phase. A phase that fails is reported as failed and
// the others still run; Run returns an error only when nothing could run.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if hard := raiseNoFile(); hard > 0 {
		// One file per connection, plus the database pool, Redis, logs.
		if o.PerProcess+256 > hard {
			return nil, fmt.Errorf("--per-process %d: a process may open %d files here", o.PerProcess, hard)
		}
		for _, n := range append(o.Ns, o.C2SSubs) {
			if n+1024 > hard {
				return nil, fmt.Errorf("%d subscribers: the server would need %d files, a process may open %d here (ulimit -Hn)", n, n+1024, hard)
			}
		}
	}
	r := &Report{Env: environment(&o)}
	if o.RedisURL != PrivateRedis {
		r.Env.Interference = interference(ctx, o.RedisURL)
	}
	for _, w := range r.Env.Interference {
		fmt.Fprintln(o.Log, "WARNING:", w)
	}
	for _, n := range o.Ns {
		fmt.Fprintf(o.Log, "== fan-out, N=%d\n", n)
		res := runFanout(ctx, &o, n)
		if res.Err != "" {
			fmt.Fprintf(o.Log, "N=%d failed: %s\n", n, res.Err)
		}
		r.Fanout = append(r.Fanout, res)
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
	}
	if o.C2SSubs > 0 {
		fmt.Fprintf(o.Log, "== commit-to-screen, %d subscribers, %g mutations/s for %s\n", o.C2SSubs, o.C2SRate, o.C2SDuration)
		res := runC2S(ctx, &o)
		if res.Err != "" {
			fmt.Fprintf(o.Log, "commit-to-screen failed: %s\n", res.Err)
		}
		r.C2S = &res
	}
	return r, ctx.Err()
}

// raiseNoFile raises the soft open-file limit to the hard one, which it
// returns (0: unknown or unlimited). Children inherit it (Go restores the
// original limit in children only when it raised the limit itself at
// start, not after an explicit Setrlimit); the server's is checked once
// it runs.
func raiseNoFile() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	if l.Max > 1<<30 {
		return 0
	}
	return int(l.Max)
}

// interference lists other processes subscribed to scrm's event channels
// on the same Redis: Pub/Sub ignores the database number, so another scrm
// (a test run, a dev server) publishing for a tenant with the same id
// would reach the server under test.
func interference(ctx context.Context, url string) []string {
	if url == "" {
		return nil
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return []string{"redis: " + err.Error()}
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	chans, err := rdb.PubSubChannels(ctx, "scrm:events:*").Result()
	if err != nil {
		return []string{"redis: " + err.Error()}
	}
	if len(chans) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("other scrm processes listen on this Redis (channels %s); Pub/Sub ignores the database number, "+
		"so their events may reach the server under test and its kicks wake them", strings.Join(chans, ", "))}
}

// session is one server under test with its load processes.
type session struct {
	o      *Options
	ctx    context.Context
	redis  *redisProc // a private Redis, or nil
	srv    *server
	mon    *eventMonitor // events published on the server's Redis, or nil
	api    *gql
	marker string // title prefix of this session's events
	seq    int    // last event number used

	// mutate makes the event titled title: one committed change.
	mutate    func(ctx context.Context, title string) error
	mutations atomic.Int64 // that succeeded, each one event

	procs []*loadProc

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change below
	conn    map[int]Msg   // proc → connected
	live    map[int]bool  // proc → every subscription has had an event
	done    map[int]map[int]Msg
	ended   map[int]int // proc → subscriptions or connections ended
	lostErr string
	gone    map[int]bool // proc → exited
	stopped bool
}

var sessions atomic.Int64

// newSession starts a server (and its private Redis) for subscribers
// connections and mints the token.
func newSession(ctx context.Context, o *Options, subscribers int) (_ *session, err error) {
	s := &session{
		o: o, ctx: ctx, changed: make(chan struct{}),
		marker: fmt.Sprintf("bench-rt %d.%d #", time.Now().Unix(), sessions.Add(1)),
		conn:   map[int]Msg{}, live: map[int]bool{}, done: map[int]map[int]Msg{}, ended: map[int]int{}, gone: map[int]bool{},
	}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	redisURL := o.RedisURL
	if redisURL == PrivateRedis {
		if s.redis, err = startRedis(ctx, o); err != nil {
			return nil, err
		}
		redisURL = s.redis.url
	}
	if redisURL != "" {
		if s.mon, err = monitorEvents(ctx, redisURL); err != nil {
			return nil, fmt.Errorf("watch Redis: %w", err)
		}
	}
	if s.srv, err = startServer(ctx, o, redisURL, subscribers+1024); err != nil {
		return nil, err
	}
	tok, err := s.srv.token(ctx, o)
	if err != nil {
		return nil, err
	}
	s.api = newGQL(s.srv.addr, tok)
	return s, nil
}

// foreign is how many more events were published on the server's Redis
// than the session's mutations made (-1: not watched).
func (s *session) foreign() int {
	if s.mon == nil {
		return -1
	}
	return max(int(s.mon.published.Load()-s.mutations.Load()), 0)
}

func (s *session) logf(format string, args ...any) {
	fmt.Fprintf(s.o.Log, "  "+format+"\n", args...)
}

// close stops the load processes, then the server and its Redis.
func (s *session) close() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	defer func() {
		if s.srv != nil {
			s.srv.stop()
		}
		if s.mon != nil {
			s.mon.close()
		}
		if s.redis != nil {
			s.redis.stop()
		}
	}()
	for _, p := range s.procs {
		p.send(Msg{Cmd: cmdQuit})
		p.stdin.Close()
	}
	for _, p := range s.procs {
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
}

// notify wakes waiters; the caller holds s.mu.
func (s *session) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor waits until cond (called with s.mu held) holds, the timeout
// passes, a load process or the server exits, or the run is cancelled.
func (s *session) waitFor(timeout time.Duration, cond func() bool) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		ok, ch := cond(), s.changed
		var gone []int
		for i := range s.gone {
			gone = append(gone, i)
		}
		s.mu.Unlock()
		if ok {
			return nil
		}
		if len(gone) > 0 {
			return fmt.Errorf("load process %d exited", gone[0])
		}
		if err := s.srv.alive(); err != nil {
			return err
		}
		select {
		case <-ch:
		case <-timer.C:
			return errTimeout
		case <-s.srv.exited:
		case <-s.ctx.Done():
			return s.ctx.Err()
		}
	}
}

var errTimeout = errors.New("timed out")

// loadProc is one load process.
type loadProc struct {
	idx     int
	cmd     *exec.Cmd
	pid     int
	conns   int
	stdin   io.WriteCloser
	wmu     sync.Mutex
	replies chan Msg
	exited  chan struct{}
}

func (p *loadProc) send(m Msg) {
	b, _ := json.Marshal(m)
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, _ = p.stdin.Write(append(b, '\n'))
}

// ask sends a command and waits for its answer (status or latency).
func (s *session) ask(p *loadProc, m Msg) (Msg, error) {
	for drained := false; !drained; { // answers to earlier questions that timed out
		select {
		case <-p.replies:
		default:
			drained = true
		}
	}
	p.send(m)
	select {
	case r := <-p.replies:
		return r, nil
	case <-p.exited:
		return Msg{}, fmt.Errorf("load process %d exited", p.idx)
	case <-time.After(60 * time.Second):
		return Msg{}, fmt.Errorf("load process %d did not answer %s", p.idx, m.Cmd)
	case <-s.ctx.Done():
		return Msg{}, s.ctx.Err()
	}
}

// spawn starts ceil(n/PerProcess) load processes sharing n subscriptions
// to query and waits until each is ready.
func (s *session) spawn(n int, query string, vars map[string]any) error {
	k := (n + s.o.PerProcess - 1) / s.o.PerProcess
	varsJSON, _ := json.Marshal(vars)
	ready := make(chan int, k)
	for i := range k {
		share := n / k
		if i < n%k {
			share++
		}
		cmd := exec.Command(s.o.Exe, "bench", "realtime-client",
			"--url", "ws://"+s.srv.addr+"/graphql",
			"--conns", strconv.Itoa(share),
			"--query", query,
			"--variables", string(varsJSON),
			"--marker", s.marker,
			"--dial-concurrency", strconv.Itoa(s.o.DialConcurrency),
		)
		cmd.Env = childEnv(s.o, "SCRM_BENCH_TOKEN="+s.api.token)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		cmd.Stderr = prefixWriter{w: s.o.Log, prefix: fmt.Sprintf("  load process %d: ", i)}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start load process: %w", err)
		}
		p := &loadProc{idx: i, cmd: cmd, pid: cmd.Process.Pid, conns: share, stdin: stdin, replies: make(chan Msg, 4), exited: make(chan struct{})}
		s.procs = append(s.procs, p)
		go s.readProc(p, stdout, ready)
	}
	for range k {
		select {
		case <-ready:
		case <-time.After(30 * time.Second):
			return errors.New("a load process did not start within 30s")
		}
	}
	return nil
}

// readProc applies a load process's reports to the session.
func (s *session) readProc(p *loadProc, stdout io.Reader, ready chan<- int) {
	defer func() {
		_ = p.cmd.Wait()
		s.mu.Lock()
		if !s.stopped {
			s.gone[p.idx] = true
		}
		s.notify()
		s.mu.Unlock()
		close(p.exited)
	}()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	for sc.Scan() {
		var m Msg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			fmt.Fprintf(s.o.Log, "  load process %d: %s\n", p.idx, sc.Text())
			continue
		}
		switch m.Type {
		case msgReady:
			ready <- p.idx
			continue
		case msgStatus, msgLatency:
			select {
			case p.replies <- m:
			default: // nobody is asking any more
			}
			continue
		}
		s.mu.Lock()
		switch m.Type {
		case msgConnected:
			s.conn[p.idx] = m
		case msgLive:
			s.live[p.idx] = true
		case msgDone:
			if s.done[m.Seq] == nil {
				s.done[m.Seq] = map[int]Msg{}
			}
			s.done[m.Seq][p.idx] = m
		case msgLost:
			s.ended[p.idx] = max(s.ended[p.idx], m.Ended)
			if s.lostErr == "" {
				s.lostErr = m.Err
				fmt.Fprintf(s.o.Log, "  load process %d: %s\n", p.idx, m.Err)
			}
		}
		s.notify()
		s.mu.Unlock()
	}
}

// connect has every load process open its connections at once and
// returns the connect figures.
func (s *session) connect(timeout time.Duration) (ok, failed int, span time.Duration, err error) {
	for _, p := range s.procs {
		p.send(Msg{Cmd: cmdConnect})
	}
	err = s.waitFor(timeout, func() bool { return len(s.conn) == len(s.procs) })
	if err != nil {
		return 0, 0, 0, fmt.Errorf("connecting: %w", err)
	}
	var first, last int64
	var firstErr string
	for _, m := range s.conn {
		ok += m.OK
		failed += m.Failed
		if first == 0 || m.FirstDial < first {
			first = m.FirstDial
		}
		last = max(last, m.LastAck)
		if firstErr == "" {
			firstErr = m.Err
		}
	}
	if failed > 0 {
		return ok, failed, time.Duration(last - first), fmt.Errorf("%d of %d connections failed, e.g. %s", failed, ok+failed, firstErr)
	}
	return ok, failed, time.Duration(last - first), nil
}

// event sends one mutation and returns when the event numbered by it has
// reached every subscription (or the timeout): the send time, the
// mutation's round trip, and the receptions' count, first and last times.
func (s *session) event(timeout time.Duration) (seq int, sent time.Time, rtt time.Duration, count int, first, last int64, err error) {
	s.seq++
	seq = s.seq
	sent = time.Now()
	if err = s.mutate(s.ctx, s.marker+strconv.Itoa(seq)); err != nil {
		return seq, sent, 0, 0, 0, 0, fmt.Errorf("mutation: %w", err)
	}
	s.mutations.Add(1)
	rtt = time.Since(sent)
	werr := s.waitFor(max(timeout-rtt, time.Second), func() bool { return len(s.done[seq]) == len(s.procs) })
	if werr == nil {
		s.mu.Lock()
		for _, m := range s.done[seq] {
			count += m.Count
			if first == 0 || m.First < first {
				first = m.First
			}
			last = max(last, m.Last)
		}
		s.mu.Unlock()
		return seq, sent, rtt, count, first, last, nil
	}
	if !errors.Is(werr, errTimeout) {
		return seq, sent, rtt, 0, 0, 0, werr
	}
	// Incomplete: what did arrive.
	for _, p := range s.procs {
		st, err := s.ask(p, Msg{Cmd: cmdStatus, Seq: seq})
		if err != nil {
			return seq, sent, rtt, count, first, last, err
		}
		count += st.Count
		if st.First != 0 && (first == 0 || st.First < first) {
			first = st.First
		}
		last = max(last, st.Last)
	}
	return seq, sent, rtt, count, first, last, errTimeout
}

// warmUp sends events, one at a time, until one reaches every
// subscription: the proof that each is live (graphql-transport-ws does
// not acknowledge a subscribe).
func (s *session) warmUp() (rounds int, err error) {
	for rounds = 1; rounds <= s.o.WarmupRounds; rounds++ {
		seq, _, _, _, _, _, err := s.event(s.o.EventTimeout)
		if err == nil {
			return rounds, nil // every subscription received it
		}
		if !errors.Is(err, errTimeout) {
			return rounds, fmt.Errorf("warm-up event %d: %w", seq, err)
		}
		s.logf("warm-up event %d did not reach every subscription within %s; sending another", seq, s.o.EventTimeout)
	}
	live, total := 0, 0
	for _, p := range s.procs {
		st, err := s.ask(p, Msg{Cmd: cmdStatus})
		if err != nil {
			return rounds, err
		}
		live += st.Live
		total += p.conns
	}
	return rounds, fmt.Errorf("after %d warm-up events only %d of %d subscriptions had received one", s.o.WarmupRounds, live, total)
}

// ended counts subscriptions and connections lost so far.
func (s *session) endedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.ended {
		n += e
	}
	return n
}

// waitQuiet waits at least least, then until the server has used at most
// 2% of a core over one second (it has finished processing what was
// sent), at most max; it reports whether the server got quiet.
func (s *session) waitQuiet(least, most time.Duration) bool {
	select {
	case <-time.After(least):
	case <-s.ctx.Done():
		return false
	}
	deadline := time.Now().Add(most)
	for time.Now().Before(deadline) && s.ctx.Err() == nil {
		c0, err := ProcCPU(s.srv.pid)
		if err != nil {
			return false
		}
		time.Sleep(time.Second)
		c1, err := ProcCPU(s.srv.pid)
		if err != nil {
			return false
		}
		if c1-c0 <= 2*clockTick {
			return true
		}
	}
	return false
}

// cpuSample is the CPU used so far by each process of interest.
type cpuSample struct {
	at                                time.Time
	server, load, db, rdb, self, host time.Duration
	dbPIDs, redisPIDs, loads          []int
}

func (s *session) sampleCPU(prev *cpuSample) *cpuSample {
	c := &cpuSample{at: time.Now()}
	if prev != nil {
		c.dbPIDs, c.redisPIDs, c.loads = prev.dbPIDs, prev.redisPIDs, prev.loads
	} else {
		if localMySQL(s.o.DatabaseURL) {
			c.dbPIDs = FindProcs("mariadbd", "mysqld")
		}
		switch {
		case s.redis != nil:
			c.redisPIDs = []int{s.redis.pid}
		case s.o.RedisURL != "":
			c.redisPIDs = FindProcs("redis-server")
		}
		for _, p := range s.procs {
			c.loads = append(c.loads, p.pid)
		}
	}
	c.server, _ = ProcCPU(s.srv.pid)
	c.load = cpuOf(c.loads)
	c.db = cpuOf(c.dbPIDs)
	c.rdb = cpuOf(c.redisPIDs)
	c.self, _ = ProcCPU(os.Getpid())
	c.host, _ = HostBusy()
	return c
}

// localMySQL reports whether the database is a MySQL/MariaDB server on
// this host, whose CPU can then be read.
func localMySQL(url string) bool {
	return strings.HasPrefix(url, "mysql://") &&
		(strings.Contains(url, "@tcp(127.0.0.1:") || strings.Contains(url, "@tcp(localhost:") || strings.Contains(url, "@unix("))
}

func (s *session) loadRSS() int64 {
	var total int64
	for _, p := range s.procs {
		if r, err := ProcRSS(p.pid); err == nil {
			total += r
		}
	}
	return total
}

// runFanout measures N subscribers of one ticket: connect, idle memory,
// then Events events one at a time.
func runFanout(ctx context.Context, o *Options, n int) (r FanoutResult) {
	r.N = n
	fail := func(err error) FanoutResult { r.Err = err.Error(); return r }
	s, err := newSession(ctx, o, n)
	if err != nil {
		return fail(err)
	}
	defer s.close()
	r.ServerLog = s.srv.logPath
	tickets, err := s.api.tickets(ctx, 1)
	if err != nil {
		return fail(err)
	}
	ticket := tickets[0]
	s.mutate = func(ctx context.Context, title string) error { return s.api.update(ctx, ticket, title) }
	s.waitQuiet(time.Second, 30*time.Second)
	if r.RSSBefore, err = ProcRSS(s.srv.pid); err != nil {
		return fail(err)
	}
	query := `subscription($ids: [ID!]) { ticketUpdated(filter: {ticketIDs: $ids}) { cursor kind ticket { id title status } at } }`
	if err := s.spawn(n, query, map[string]any{"ids": []string{ticket}}); err != nil {
		return fail(err)
	}
	r.Procs = len(s.procs)
	s.logf("%d load processes connecting %d subscriptions to ticket %s", len(s.procs), n, ticket)
	ok, failed, span, err := s.connect(o.EventTimeout + time.Duration(n)*10*time.Millisecond)
	r.Connected, r.ConnectFailed, r.ConnectSpan = ok, failed, span
	if span > 0 {
		r.ConnectRate = float64(ok) / span.Seconds()
	}
	if err != nil {
		return fail(err)
	}
	s.logf("connected %d in %s (%.0f/s)", ok, span.Round(time.Millisecond), r.ConnectRate)
	r.Quiet = s.waitQuiet(o.Settle, 60*time.Second)
	if r.RSSIdle, err = ProcRSS(s.srv.pid); err != nil {
		return fail(err)
	}
	r.LoadRSS = s.loadRSS()
	s.logf("server RSS %s before, %s with %d idle subscriptions", mib(r.RSSBefore), mib(r.RSSIdle), n)
	if r.WarmupRounds, err = s.warmUp(); err != nil {
		return fail(err)
	}
	s.waitQuiet(time.Second, 30*time.Second)
	r.RSSAfterWarmup, _ = ProcRSS(s.srv.pid)
	s.logf("all %d subscriptions live after %d warm-up event(s); RSS %s", n, r.WarmupRounds, mib(r.RSSAfterWarmup))

	c0 := s.sampleCPU(nil)
	for range o.Events {
		seq, sent, rtt, count, first, last, err := s.event(o.EventTimeout)
		e := EventResult{Seq: seq, RTT: rtt, Received: count}
		if first != 0 {
			e.FirstAfter = time.Duration(first - sent.UnixNano())
		}
		if last != 0 {
			e.FanOut = time.Duration(last - sent.UnixNano())
		}
		if err != nil && !errors.Is(err, errTimeout) {
			return fail(fmt.Errorf("event %d: %w", seq, err))
		}
		e.TimedOut = err != nil
		r.Events = append(r.Events, e)
		r.Deliveries += count
		s.logf("event %d: %d/%d received, last after %s (mutation %s)%s", seq, count, ok, e.FanOut.Round(time.Microsecond),
			rtt.Round(time.Microsecond), map[bool]string{true: " TIMED OUT", false: ""}[e.TimedOut])
	}
	c1 := s.sampleCPU(c0)
	r.CPU = cpuDelta(c0, c1)
	r.Lost = s.endedCount()
	r.Foreign = s.foreign()
	return r
}

func cpuDelta(a, b *cpuSample) CPUUse {
	return CPUUse{Wall: b.at.Sub(a.at), Server: b.server - a.server, Load: b.load - a.load,
		DB: b.db - a.db, Redis: b.rdb - a.rdb, Coordinator: b.self - a.self, Host: b.host - a.host,
		DBFound: len(a.dbPIDs) > 0, RedisFound: len(a.redisPIDs) > 0}
}

// runC2S measures commit-to-screen: C2SSubs subscribers of every ticket
// event, tickets created at C2SRate per second (open loop: on schedule,
// whether earlier requests have answered or not). Each event is a new
// ticket: a delivery carries the ticket as loaded when it is delivered,
// so with several changes of one ticket in flight its title would name
// the latest, not the event's; a new ticket's title never changes.
func runC2S(ctx context.Context, o *Options) (r C2SResult) {
	r.Subs, r.Rate, r.Duration = o.C2SSubs, o.C2SRate, o.C2SDuration
	fail := func(err error) C2SResult { r.Err = err.Error(); return r }
	s, err := newSession(ctx, o, o.C2SSubs)
	if err != nil {
		return fail(err)
	}
	defer s.close()
	r.ServerLog = s.srv.logPath
	s.mutate = s.api.create
	query := `subscription { ticketUpdated { cursor kind ticket { id title status } at } }`
	if err := s.spawn(o.C2SSubs, query, nil); err != nil {
		return fail(err)
	}
	ok, _, _, err := s.connect(o.EventTimeout + time.Duration(o.C2SSubs)*10*time.Millisecond)
	if err != nil {
		return fail(err)
	}
	s.waitQuiet(o.Settle, 60*time.Second)
	if _, err := s.warmUp(); err != nil {
		return fail(err)
	}
	s.waitQuiet(time.Second, 30*time.Second)
	s.logf("%d subscriptions live; creating tickets", ok)

	total := int(o.C2SRate * o.C2SDuration.Seconds())
	if total < 2 {
		return fail(errors.New("rate × duration makes fewer than 2 mutations"))
	}
	base := s.seq + 1
	s.seq += total
	sent := make([]int64, total)
	rtts := make([]time.Duration, total)
	failed := make([]bool, total)
	var (
		wg        sync.WaitGroup
		late      atomic.Int32
		errMu     sync.Mutex
		firstErr  error
		inflight  = make(chan struct{}, 256)
		interval  = float64(time.Second) / o.C2SRate
		c0        = s.sampleCPU(nil)
		start     = time.Now().Add(50 * time.Millisecond)
		lateSlack = 10 * time.Millisecond
	)
	for i := range total {
		at := start.Add(time.Duration(float64(i) * interval))
		time.Sleep(time.Until(at))
		inflight <- struct{}{}
		wg.Go(func() {
			defer func() { <-inflight }()
			t0 := time.Now()
			if t0.Sub(at) > lateSlack {
				late.Add(1)
			}
			sent[i] = t0.UnixNano()
			err := s.mutate(ctx, s.marker+strconv.Itoa(base+i))
			rtts[i] = time.Since(t0)
			if err == nil {
				s.mutations.Add(1)
			}
			if err != nil {
				failed[i] = true
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	sendSpan := time.Duration(sent[total-1] - sent[0])
	r.Sent = total
	r.Late = int(late.Load())
	if total > 1 && sendSpan > 0 {
		r.AchievedRate = float64(total-1) / sendSpan.Seconds()
	}
	for i := range total {
		if failed[i] {
			r.SendErrors++
			sent[i] = 0 // not an event
			continue
		}
		r.RTTs = append(r.RTTs, rtts[i])
	}
	if firstErr != nil {
		s.logf("%d mutations failed, e.g. %v", r.SendErrors, firstErr)
	}
	// Drain: every event to every subscriber, or the timeout.
	werr := s.waitFor(o.EventTimeout, func() bool {
		for i := range total {
			if sent[i] != 0 && len(s.done[base+i]) < len(s.procs) {
				return false
			}
		}
		return true
	})
	if werr != nil && !errors.Is(werr, errTimeout) {
		return fail(werr)
	}
	r.CPU = cpuDelta(c0, s.sampleCPU(c0))
	if werr != nil {
		s.mu.Lock()
		incomplete := 0
		for i := range total {
			if sent[i] != 0 && len(s.done[base+i]) < len(s.procs) {
				incomplete++
			}
		}
		s.mu.Unlock()
		s.logf("%s after the last mutation, %d of %d events had not reached every subscriber", o.EventTimeout, incomplete, total-r.SendErrors)
	}
	r.Hist = &Histogram{}
	for _, p := range s.procs {
		m, err := s.ask(p, Msg{Cmd: cmdLatency, From: base, To: base + total, Sent: sent})
		if err != nil {
			return fail(err)
		}
		r.Hist.Merge(m.Hist)
	}
	r.Expected = ok * (total - r.SendErrors)
	r.Received = int(r.Hist.N)
	r.Deliveries = r.Received
	r.Lost = s.endedCount()
	r.Foreign = s.foreign()
	s.logf("received %d of %d deliveries; p50 %s p99 %s", r.Received, r.Expected,
		r.Hist.Quantile(50).Round(time.Microsecond), r.Hist.Quantile(99).Round(time.Microsecond))
	return r
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// prefixWriter writes a child's stderr to the log, each write prefixed.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	for line := range strings.Lines(string(b)) {
		fmt.Fprint(p.w, p.prefix+line)
	}
	return len(b), nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
