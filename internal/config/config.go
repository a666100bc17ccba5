// Package config reads the product's configuration from the environment,
// once, at start-up, and refuses bad values with a message naming the
// variable. Everything else receives the parsed Config; nothing reads the
// environment on its own.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/internal/pii"
	"github.com/scrm-dev/scrm/internal/store"
)

// Mode is how the product runs.
type Mode string

const (
	// Development is the default: a generated JWT secret under the data
	// directory, GraphiQL on, readable logs.
	Development Mode = "development"
	// Production demands explicit secrets and turns conveniences off.
	Production Mode = "production"
)

// Config is the whole configuration.
type Config struct {
	Mode           Mode
	HTTPAddr       string
	DataDir        string
	DatabaseURL    string
	DBMaxOpenConns int
	RedisURL       string
	JWTSecret      string
	JWTIssuer      string
	TokenTTL       time.Duration
	// CustomerTokenTTL is the lifetime of the tokens mini-program
	// customers get from loginWithMiniProgram.
	CustomerTokenTTL  time.Duration
	GraphiQL          bool
	MaxPageSize       int
	LogLevel          slog.Level
	LogFormat         string
	RunWorker         bool
	WorkerConcurrency int
	// PIIKeys, PIIActiveKey and PIIIndexKey configure encryption of
	// personal data at rest (see pii.ParseKeys); empty in development
	// uses generated keys kept in the data dir.
	PIIKeys      string
	PIIActiveKey string
	PIIIndexKey  string
	// RevealLimit is how many masked values one staff member may reveal
	// per hour.
	RevealLimit int
	// AllowedOrigins are the browser origins that may open WebSockets.
	AllowedOrigins []string
	// EventRetention is how long realtime events are kept for replay.
	EventRetention time.Duration
	// ShutdownGrace bounds how long `scrm serve` waits for requests in
	// flight once told to stop.
	ShutdownGrace time.Duration
	// PprofAddr, when set, serves Go's profiler there.
	PprofAddr string
	// MetricsAddr, when set, serves Prometheus metrics there.
	MetricsAddr string
	// PublicURL is where platforms reach this server (callback URLs).
	PublicURL string
	// Requests a minute per staff member, mini-program customer and
	// partner key (a key may set its own); 0 turns a limit off.
	RateLimitStaff, RateLimitCustomer, RateLimitPartner int
	// TrustedProxies are the load balancers whose X-Forwarded-For is
	// believed.
	TrustedProxies []netip.Prefix
	// RequestTimeout bounds one GraphQL request's execution.
	RequestTimeout time.Duration
	// MaxBodyBytes and MaxHeaderBytes cap a request.
	MaxBodyBytes   int64
	MaxHeaderBytes int
	// ReadTimeout and WriteTimeout bound reading a request and writing
	// its answer (streams and WebSockets excepted).
	ReadTimeout, WriteTimeout time.Duration
	// Operation limits (internal/querylimit; 0 takes its default, -1
	// turns one off) and operations per batch.
	MaxDepth, MaxCost, MaxNodes, MaxAliases, MaxRootFields int
	MaxDocumentBytes, MaxVariablesBytes, MaxBatch          int
	// WebhookPauseAfter is how many failed delivery attempts in a row
	// pause a webhook endpoint.
	WebhookPauseAfter int
	// WebhookAllowInsecure allows webhook endpoints on http to loopback
	// hosts and deliveries to internal addresses (development).
	WebhookAllowInsecure bool
	// Platform base URLs (the fakes in tests and the demo).
	WecomBaseURL, TaobaoBaseURL, DouyinBaseURL, WechatBaseURL string
}

// Var documents one environment variable; Vars is the table the README
// repeats.
type Var struct{ Name, Default, Meaning string }

// Vars lists every variable Load reads.
var Vars = []Var{
	{"SCRM_ENV", "development", "`development` or `production`; production requires SCRM_JWT_SECRET and turns GraphiQL off"},
	{"SCRM_HTTP_ADDR", ":8080", "listen address of `scrm serve`"},
	{"SCRM_DATA_DIR", "./data", "where the embedded default keeps its SQLite file and generated JWT secret"},
	{"SCRM_DATABASE_URL", "(SQLite file under the data dir)", "`mysql://user:pass@tcp(host:3306)/scrm?parseTime=true` for MySQL/MariaDB/TiDB, or `sqlite://path`"},
	{"SCRM_DB_MAX_OPEN_CONNS", "25", "connection pool size"},
	{"SCRM_REDIS_URL", "(in-process Redis)", "`redis://[:password@]host:6379/0`; empty runs an in-process Redis-compatible server"},
	{"SCRM_JWT_SECRET", "(generated in development)", "HMAC secret signing staff tokens, at least 32 bytes; required in production"},
	{"SCRM_JWT_ISSUER", "scrm", "issuer written into and required of tokens"},
	{"SCRM_TOKEN_TTL", "12h", "default lifetime of tokens printed by `scrm token`"},
	{"SCRM_CUSTOMER_TOKEN_TTL", "24h", "lifetime of the tokens mini-program customers get from `loginWithMiniProgram`; the mini-program signs in again (a fresh `wx.login` code) when one expires"},
	{"SCRM_GRAPHIQL", "true in development", "serve GraphiQL at `/`"},
	{"SCRM_MAX_PAGE_SIZE", "100", "largest `first`/`last` a connection accepts"},
	{"SCRM_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"SCRM_LOG_FORMAT", "text in development, json in production", "`text` or `json`"},
	{"SCRM_SERVE_WORKER", "true when SCRM_REDIS_URL is empty", "run the background worker inside `scrm serve`"},
	{"SCRM_WORKER_CONCURRENCY", "10", "tasks a worker runs at once"},
	{"SCRM_PII_KEYS", "(generated in development)", "keys encrypting personal data at rest: `id:aes-256-gcm:BASE64,old:sm4-gcm:BASE64`; keep retired keys listed until `scrm keys rotate` has run; required in production"},
	{"SCRM_PII_ACTIVE_KEY", "(the first key)", "id of the key new values are encrypted with"},
	{"SCRM_PII_INDEX_KEY", "(generated in development)", "base64 secret (32+ bytes) of the blind index for exact phone lookup; never rotate it without re-indexing; required in production"},
	{"SCRM_REVEAL_LIMIT", "30", "masked values one staff member may reveal per hour"},
	{"SCRM_EVENT_RETENTION", "168h", "how long live-update events are kept for clients resuming after a cursor; older cursors get CURSOR_EXPIRED"},
	{"SCRM_SHUTDOWN_GRACE", "20s", "on SIGTERM, `scrm serve` stops accepting, closes live-update connections (WebSocket 1001) so clients reconnect elsewhere, and waits this long for requests in flight"},
	{"SCRM_PPROF_ADDR", "(off)", "serve Go's profiler (`/debug/pprof/`) on this address, e.g. `127.0.0.1:6060`; never expose it"},
	{"SCRM_METRICS_ADDR", "(off)", "serve Prometheus metrics (`/metrics`: platform calls, throttling, breakers) on this address, e.g. `127.0.0.1:9090`"},
	{"SCRM_PUBLIC_URL", "http://localhost:8080 (from SCRM_HTTP_ADDR)", "the server's address as the platforms reach it; connector accounts' callback URLs start with it"},
	{"SCRM_WECOM_BASE_URL", "https://qyapi.weixin.qq.com", "WeCom server API (point it at `scrm fake-platforms` for a demo)"},
	{"SCRM_TAOBAO_BASE_URL", "https://gw.api.taobao.com/router/rest", "Taobao/Tmall TOP gateway"},
	{"SCRM_DOUYIN_BASE_URL", "https://openapi-fxg.jinritemai.com", "Douyin shop open API"},
	{"SCRM_RATE_LIMIT_STAFF", "1200", "requests a minute one staff member may make (bursts of ten seconds' worth); 0 turns it off; 429 with Retry-After beyond"},
	{"SCRM_RATE_LIMIT_CUSTOMER", "120", "requests a minute one mini-program customer may make"},
	{"SCRM_RATE_LIMIT_PARTNER", "600", "requests a minute one partner API key may make, unless the key sets its own"},
	{"SCRM_TRUSTED_PROXIES", "(none)", "comma-separated addresses or CIDR ranges of load balancers whose X-Forwarded-For is believed (IP allowlists, audit, limits)"},
	{"SCRM_REQUEST_TIMEOUT", "30s", "longest a GraphQL request over HTTP may execute; past it the answer carries TIMEOUT errors"},
	{"SCRM_MAX_BODY_BYTES", "1048576", "largest request body accepted (413 beyond)"},
	{"SCRM_MAX_HEADER_BYTES", "65536", "largest request header block accepted (431 beyond)"},
	{"SCRM_HTTP_READ_TIMEOUT", "30s", "longest the server waits for a whole request"},
	{"SCRM_HTTP_WRITE_TIMEOUT", "60s", "longest an answer may take to write (live-update streams and WebSockets excepted)"},
	{"SCRM_WEBHOOK_PAUSE_AFTER", "15", "failed webhook delivery attempts in a row that pause an endpoint (its admins are told on WeCom)"},
	{"SCRM_WEBHOOK_ALLOW_INSECURE", "true in development", "allow webhook endpoints on `http://` loopback hosts and deliveries to private, loopback and link-local addresses; keep it off in production (SSRF)"},
	{"SCRM_MAX_DEPTH", "15", "deepest field nesting an operation may have (QUERY_TOO_DEEP); -1 turns a limit off"},
	{"SCRM_MAX_COST", "50000", "largest operation cost, lists counted by first/last (QUERY_TOO_COMPLEX)"},
	{"SCRM_MAX_NODES", "500000", "most nodes an operation may ask for along nested connections (NODE_LIMIT_EXCEEDED)"},
	{"SCRM_MAX_ALIASES", "30", "most aliased fields in an operation (TOO_MANY_ALIASES)"},
	{"SCRM_MAX_ROOT_FIELDS", "10", "most root fields in an operation (TOO_MANY_ROOT_FIELDS)"},
	{"SCRM_MAX_DOCUMENT_BYTES", "32768", "largest query text (DOCUMENT_TOO_LARGE)"},
	{"SCRM_MAX_VARIABLES_BYTES", "65536", "largest variables of one operation (VARIABLES_TOO_LARGE)"},
	{"SCRM_MAX_BATCH", "10", "most operations in one batched POST (BATCH_TOO_LARGE)"},
	{"SCRM_WECHAT_BASE_URL", "https://api.weixin.qq.com", "WeChat server API (mini-program sign-in, `jscode2session`)"},
	{"SCRM_ALLOWED_ORIGINS", "(this host only)", "comma-separated browser origins allowed to open GraphQL WebSockets, e.g. `https://console.example.com`; `*` allows any"},
}

// Load reads the configuration from the environment.
func Load() (*Config, error) { return load(os.Getenv) }

func load(getenv func(string) string) (*Config, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	integer := func(name string, def, min int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			bad(name, "want an integer of at least %d, got %q", min, v)
			return def
		}
		return n
	}
	boolean := func(name string, def bool) bool {
		v := getenv(name)
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad(name, "want true or false, got %q", v)
			return def
		}
		return b
	}

	c := &Config{}
	switch m := Mode(str("SCRM_ENV", string(Development))); m {
	case Development, Production:
		c.Mode = m
	default:
		bad("SCRM_ENV", "want development or production, got %q", m)
		c.Mode = Development
	}
	prod := c.Mode == Production

	c.HTTPAddr = str("SCRM_HTTP_ADDR", ":8080")
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("SCRM_HTTP_ADDR", "want host:port or :port, got %q", c.HTTPAddr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("SCRM_HTTP_ADDR", "bad port %q", port)
	}
	c.DataDir = str("SCRM_DATA_DIR", "data")
	c.DatabaseURL = str("SCRM_DATABASE_URL", "")
	if err := store.ParseURL(c.DatabaseURL); err != nil {
		bad("SCRM_DATABASE_URL", "%v", err)
	}
	c.DBMaxOpenConns = integer("SCRM_DB_MAX_OPEN_CONNS", 25, 1)
	c.RedisURL = str("SCRM_REDIS_URL", "")
	if c.RedisURL != "" {
		if _, err := asynq.ParseRedisURI(c.RedisURL); err != nil {
			bad("SCRM_REDIS_URL", "%v", err)
		}
	}
	c.JWTSecret = getenv("SCRM_JWT_SECRET")
	switch {
	case c.JWTSecret == "" && prod:
		bad("SCRM_JWT_SECRET", "required in production (at least 32 random bytes, e.g. `openssl rand -base64 48`)")
	case c.JWTSecret != "" && len(c.JWTSecret) < 32:
		bad("SCRM_JWT_SECRET", "too short: %d bytes, want at least 32", len(c.JWTSecret))
	}
	c.JWTIssuer = str("SCRM_JWT_ISSUER", "scrm")
	ttl := str("SCRM_TOKEN_TTL", "12h")
	if d, err := time.ParseDuration(ttl); err != nil || d <= 0 {
		bad("SCRM_TOKEN_TTL", "want a positive duration such as 12h, got %q", ttl)
	} else {
		c.TokenTTL = d
	}
	customerTTL := str("SCRM_CUSTOMER_TOKEN_TTL", "24h")
	if d, err := time.ParseDuration(customerTTL); err != nil || d < time.Minute {
		bad("SCRM_CUSTOMER_TOKEN_TTL", "want a duration of at least 1m such as 24h, got %q", customerTTL)
	} else {
		c.CustomerTokenTTL = d
	}
	c.PIIKeys = getenv("SCRM_PII_KEYS")
	c.PIIActiveKey = str("SCRM_PII_ACTIVE_KEY", "")
	c.PIIIndexKey = getenv("SCRM_PII_INDEX_KEY")
	switch {
	case c.PIIKeys == "" && c.PIIIndexKey == "" && prod:
		bad("SCRM_PII_KEYS", "required in production with SCRM_PII_INDEX_KEY (for example `k1:aes-256-gcm:$(openssl rand -base64 32)`)")
	case c.PIIKeys != "" || c.PIIIndexKey != "":
		if _, err := pii.ParseKeys(c.PIIKeys, c.PIIActiveKey, c.PIIIndexKey); err != nil {
			bad("SCRM_PII_KEYS", "%v", err)
		}
	}
	c.RevealLimit = integer("SCRM_REVEAL_LIMIT", 30, 0)
	retention := str("SCRM_EVENT_RETENTION", "168h")
	if d, err := time.ParseDuration(retention); err != nil || d < time.Minute {
		bad("SCRM_EVENT_RETENTION", "want a duration of at least 1m such as 168h, got %q", retention)
	} else {
		c.EventRetention = d
	}
	c.PprofAddr = getenv("SCRM_PPROF_ADDR")
	c.MetricsAddr = getenv("SCRM_METRICS_ADDR")
	c.PublicURL = strings.TrimRight(str("SCRM_PUBLIC_URL", "http://"+LocalAddr(c.HTTPAddr)), "/")
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("SCRM_PUBLIC_URL", "want an http(s) URL such as https://scrm.example.com, got %q", c.PublicURL)
	}
	c.WecomBaseURL = str("SCRM_WECOM_BASE_URL", "https://qyapi.weixin.qq.com")
	c.TaobaoBaseURL = str("SCRM_TAOBAO_BASE_URL", "https://gw.api.taobao.com/router/rest")
	c.DouyinBaseURL = str("SCRM_DOUYIN_BASE_URL", "https://openapi-fxg.jinritemai.com")
	c.WechatBaseURL = str("SCRM_WECHAT_BASE_URL", "https://api.weixin.qq.com")
	for name, v := range map[string]string{"SCRM_WECOM_BASE_URL": c.WecomBaseURL, "SCRM_TAOBAO_BASE_URL": c.TaobaoBaseURL,
		"SCRM_DOUYIN_BASE_URL": c.DouyinBaseURL, "SCRM_WECHAT_BASE_URL": c.WechatBaseURL} {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(name, "want an http(s) URL, got %q", v)
		}
	}
	grace := str("SCRM_SHUTDOWN_GRACE", "20s")
	if d, err := time.ParseDuration(grace); err != nil || d < 0 {
		bad("SCRM_SHUTDOWN_GRACE", "want a duration such as 20s, got %q", grace)
	} else {
		c.ShutdownGrace = d
	}
	for _, o := range strings.Split(getenv("SCRM_ALLOWED_ORIGINS"), ",") {
		o = strings.TrimSuffix(strings.TrimSpace(o), "/")
		if o == "" {
			continue
		}
		if u, err := url.Parse(o); o != "*" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "") {
			bad("SCRM_ALLOWED_ORIGINS", "%q is not an origin such as https://console.example.com", o)
			continue
		}
		c.AllowedOrigins = append(c.AllowedOrigins, o)
	}
	duration := func(name, def string, min time.Duration) time.Duration {
		v := str(name, def)
		d, err := time.ParseDuration(v)
		if err != nil || d < min {
			bad(name, "want a duration of at least %s such as %s, got %q", min, def, v)
			d, _ = time.ParseDuration(def)
		}
		return d
	}
	c.RateLimitStaff = integer("SCRM_RATE_LIMIT_STAFF", 1200, 0)
	c.RateLimitCustomer = integer("SCRM_RATE_LIMIT_CUSTOMER", 120, 0)
	c.RateLimitPartner = integer("SCRM_RATE_LIMIT_PARTNER", 600, 0)
	for _, p := range strings.Split(getenv("SCRM_TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if !strings.Contains(p, "/") {
			if a, err := netip.ParseAddr(p); err == nil {
				p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()).String()
			}
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			bad("SCRM_TRUSTED_PROXIES", "%q is not an address or CIDR range", p)
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix.Masked())
	}
	c.MaxDepth = integer("SCRM_MAX_DEPTH", 0, -1)
	c.MaxCost = integer("SCRM_MAX_COST", 0, -1)
	c.MaxNodes = integer("SCRM_MAX_NODES", 0, -1)
	c.MaxAliases = integer("SCRM_MAX_ALIASES", 0, -1)
	c.MaxRootFields = integer("SCRM_MAX_ROOT_FIELDS", 0, -1)
	c.MaxDocumentBytes = integer("SCRM_MAX_DOCUMENT_BYTES", 0, -1)
	c.MaxVariablesBytes = integer("SCRM_MAX_VARIABLES_BYTES", 0, -1)
	c.MaxBatch = integer("SCRM_MAX_BATCH", 10, 1)
	c.RequestTimeout = duration("SCRM_REQUEST_TIMEOUT", "30s", 100*time.Millisecond)
	c.MaxBodyBytes = int64(integer("SCRM_MAX_BODY_BYTES", 1<<20, 1024))
	c.MaxHeaderBytes = integer("SCRM_MAX_HEADER_BYTES", 64<<10, 4096)
	c.ReadTimeout = duration("SCRM_HTTP_READ_TIMEOUT", "30s", time.Second)
	c.WriteTimeout = duration("SCRM_HTTP_WRITE_TIMEOUT", "60s", time.Second)
	c.GraphiQL = boolean("SCRM_GRAPHIQL", !prod)
	c.MaxPageSize = integer("SCRM_MAX_PAGE_SIZE", 100, 1)
	switch lvl := strings.ToLower(str("SCRM_LOG_LEVEL", "info")); lvl {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		bad("SCRM_LOG_LEVEL", "want debug, info, warn or error, got %q", lvl)
	}
	defFormat := "text"
	if prod {
		defFormat = "json"
	}
	c.LogFormat = str("SCRM_LOG_FORMAT", defFormat)
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("SCRM_LOG_FORMAT", "want text or json, got %q", c.LogFormat)
	}
	c.RunWorker = boolean("SCRM_SERVE_WORKER", c.RedisURL == "")
	c.WorkerConcurrency = integer("SCRM_WORKER_CONCURRENCY", 10, 1)
	c.WebhookPauseAfter = integer("SCRM_WEBHOOK_PAUSE_AFTER", 15, 1)
	c.WebhookAllowInsecure = boolean("SCRM_WEBHOOK_ALLOW_INSECURE", !prod)
	if len(errs) > 0 {
		return nil, fmt.Errorf("bad configuration:\n  %w", joinLines(errs))
	}
	return c, nil
}

func joinLines(errs []error) error {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return errors.New(strings.Join(lines, "\n  "))
}

// Logger builds the process logger the configuration asks for.
func (c *Config) Logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// LocalAddr turns a listen address into one a browser on this machine
// can open (":8080" → "localhost:8080").
func LocalAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
