package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
)

// Worker runs task handlers and the periodic scheduler.
type Worker struct {
	server    *asynq.Server
	scheduler *asynq.Scheduler
	mux       *asynq.ServeMux
}

// WorkerOptions configure a Worker.
type WorkerOptions struct {
	Redis       asynq.RedisConnOpt
	Concurrency int
	Logger      *slog.Logger
	Deps        Deps
	// PollInterval is how long an idle worker waits before looking for
	// new tasks again; asynq's default (1s) when zero.
	PollInterval time.Duration
}

// NewWorker returns a worker; Start runs it.
func NewWorker(opts WorkerOptions) (*Worker, error) {
	logger := asynqLogger{opts.Logger}
	server := asynq.NewServer(opts.Redis, asynq.Config{
		Concurrency: opts.Concurrency,
		Queues:      queueWeights,
		Logger:      logger,
		// Tasks still running after 10 s go back to their queue (every
		// handler is idempotent), so a worker stops well within a
		// deployment's grace period.
		ShutdownTimeout:   10 * time.Second,
		TaskCheckInterval: opts.PollInterval,
		// Scheduled tasks (SLA timers, deferred messages) become due
		// within a second, not asynq's default five.
		DelayedTaskCheckInterval: time.Second,
		RetryDelayFunc:           retryDelay,
		// Waiting for another worker's turn (errBusy) is not a failure: it
		// must not use up the task's retries.
		IsFailure: func(err error) bool { return !errors.Is(err, errBusy) },
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			opts.Logger.ErrorContext(ctx, "task failed", "type", t.Type(), "error", err)
		}),
	})
	scheduler := asynq.NewScheduler(opts.Redis, &asynq.SchedulerOpts{Logger: logger, Location: time.UTC})
	// Every replica runs a scheduler; Unique makes the other replicas'
	// copies of the same nightly run no-ops.
	if _, err := scheduler.Register("0 19 * * *", // 03:00 Asia/Shanghai
		asynq.NewTask(TypeReconcileAllTenants, nil),
		asynq.Queue(QueueBulk), asynq.Unique(12*time.Hour)); err != nil {
		return nil, fmt.Errorf("register the nightly reconciliation: %w", err)
	}
	// Sealing is idempotent and serialised per tenant in the database, so
	// a duplicate from another replica's scheduler costs one empty query.
	if _, err := scheduler.Register("@every 1m",
		asynq.NewTask(TypeSealAuditTrail, nil),
		asynq.Queue(QueueDefault), asynq.Unique(50*time.Second), asynq.Timeout(5*time.Minute)); err != nil {
		return nil, fmt.Errorf("register audit sealing: %w", err)
	}
	if _, err := scheduler.Register("@every 1h",
		asynq.NewTask(TypeTrimEvents, nil),
		asynq.Queue(QueueBulk), asynq.Unique(50*time.Minute), asynq.Timeout(30*time.Minute)); err != nil {
		return nil, fmt.Errorf("register event trimming: %w", err)
	}
	// Every replica's scheduler enqueues the fan-out; Unique keeps one a
	// minute, and the pulls it enqueues carry slot ids (schedulePulls).
	if _, err := scheduler.Register("@every 1m",
		asynq.NewTask(TypeSchedulePulls, nil),
		asynq.Queue(QueueSync), asynq.Unique(50*time.Second), asynq.Timeout(time.Minute)); err != nil {
		return nil, fmt.Errorf("register pull scheduling: %w", err)
	}
	// Channel QR codes follow their rotation within a minute; Unique
	// keeps one pass a minute whatever the number of schedulers.
	if _, err := scheduler.Register("@every 1m",
		asynq.NewTask(TypeRotateChannels, nil),
		asynq.Queue(QueueSync), asynq.Unique(50*time.Second), asynq.Timeout(time.Minute)); err != nil {
		return nil, fmt.Errorf("register channel rotation: %w", err)
	}
	// The safety net under ticket timers: whatever is due and was missed
	// (a timer lost with Redis) escalates within a minute.
	if _, err := scheduler.Register("@every 1m",
		asynq.NewTask(TypeSweepEscalations, nil),
		asynq.Queue(QueueDefault), asynq.Unique(50*time.Second), asynq.Timeout(5*time.Minute)); err != nil {
		return nil, fmt.Errorf("register the escalation sweep: %w", err)
	}
	if err := scheduleWebhooks(scheduler); err != nil {
		return nil, err
	}
	return &Worker{server: server, scheduler: scheduler, mux: Mux(opts.Deps)}, nil
}

// Start runs the handlers and the scheduler in the background.
func (w *Worker) Start() error {
	if err := w.server.Start(w.mux); err != nil {
		return fmt.Errorf("start the worker: %w", err)
	}
	if err := w.scheduler.Start(); err != nil {
		w.server.Shutdown()
		return fmt.Errorf("start the scheduler: %w", err)
	}
	return nil
}

// Shutdown stops taking tasks and waits for running ones.
func (w *Worker) Shutdown() {
	w.scheduler.Shutdown()
	w.server.Shutdown()
}

// asynqLogger sends asynq's logs to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...), "component", "asynq")
	panic(fmt.Sprint(args...))
}
