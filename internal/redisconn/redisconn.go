// Package redisconn connects to the Redis the product shares between
// replicas (asynq queues today; caches and event streams later). With no
// URL it starts an in-process Redis-compatible server (miniredis) so the
// embedded default needs nothing installed; that server lives and dies with
// the process and is shared only by what runs inside it.
package redisconn

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Conn is an open Redis connection.
type Conn struct {
	// Opt connects asynq clients, servers and inspectors.
	Opt asynq.RedisConnOpt
	// Client is for everything else (health checks, caches).
	Client redis.UniversalClient
	// Embedded is true for the in-process server.
	Embedded bool
	// Location describes the server for logs, without credentials.
	Location string
	embedded *miniredis.Miniredis
}

// Open connects to url, or starts the in-process server when url is empty.
func Open(ctx context.Context, url string) (*Conn, error) {
	c := &Conn{}
	if url == "" {
		mr := miniredis.NewMiniRedis()
		// Keys with a TTL expire on the wall clock, as in Redis (miniredis
		// otherwise expires them only when told to): cool-downs, leases
		// and locks must end by themselves.
		mr.ClockTTL(true)
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("start the in-process Redis: %w", err)
		}
		c.embedded, c.Embedded = mr, true
		c.Opt = asynq.RedisClientOpt{Addr: mr.Addr()}
		c.Location = "in-process " + mr.Addr()
	} else {
		opt, err := asynq.ParseRedisURI(url)
		if err != nil {
			return nil, fmt.Errorf("SCRM_REDIS_URL: %w", err)
		}
		c.Opt = opt
		c.Location = describe(opt)
	}
	client, ok := c.Opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, fmt.Errorf("redis: unexpected client type %T", c.Opt.MakeRedisClient())
	}
	c.Client = client
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pingCtx); err != nil {
		c.Close()
		return nil, fmt.Errorf("connect to Redis at %s: %w", c.Location, err)
	}
	return c, nil
}

// Ping checks that Redis answers.
func (c *Conn) Ping(ctx context.Context) error { return c.Client.Ping(ctx).Err() }

// Close closes the connection and stops the in-process server.
func (c *Conn) Close() error {
	err := c.Client.Close()
	if c.embedded != nil {
		c.embedded.Close()
	}
	return err
}

func describe(opt asynq.RedisConnOpt) string {
	switch o := opt.(type) {
	case asynq.RedisClientOpt:
		return fmt.Sprintf("%s db %d", o.Addr, o.DB)
	case asynq.RedisFailoverClientOpt:
		return fmt.Sprintf("sentinel %v master %s", o.SentinelAddrs, o.MasterName)
	case asynq.RedisClusterClientOpt:
		return fmt.Sprintf("cluster %v", o.Addrs)
	}
	return fmt.Sprintf("%T", opt)
}
