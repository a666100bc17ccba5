// Command probe tells, in one line, which external test services (MariaDB,
// Redis) are unreachable, so `make test` can say so before running. It
// exits 0 either way: the tests themselves skip or, under CI=true, fail.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/internal/testenv"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var missing []string
	if cfg, err := mysql.ParseDSN(strings.TrimPrefix(testenv.MySQLServerURL(), "mysql://")); err != nil {
		missing = append(missing, "MariaDB ("+err.Error()+")")
	} else if db, err := sql.Open("mysql", cfg.FormatDSN()); err != nil || db.PingContext(ctx) != nil {
		missing = append(missing, "MariaDB at "+cfg.Addr)
	}
	if opt, err := asynq.ParseRedisURI(testenv.RedisURL()); err != nil {
		missing = append(missing, "Redis ("+err.Error()+")")
	} else if c, ok := opt.MakeRedisClient().(redis.UniversalClient); !ok || c.Ping(ctx).Err() != nil {
		missing = append(missing, "Redis at "+testenv.RedisURL())
	}
	if len(missing) > 0 {
		fmt.Printf("make test: %s unreachable: running the embedded SQLite/in-process Redis tests only (CI=true makes this a failure)\n", strings.Join(missing, " and "))
	}
}
