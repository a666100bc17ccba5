package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/internal/apperr"
)

// JobState is a task's state in asynq.
type JobState string

// MarshalGQL writes the state as a GraphQL enum value.
func (s JobState) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL reads the state from a GraphQL enum value.
func (s *JobState) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("job state must be a string")
	}
	*s = JobState(str)
	return nil
}

// Job is one task as admins see it.
type Job struct {
	ID            string
	Queue         string
	Type          string
	State         JobState
	Retried       int
	MaxRetry      int
	LastError     *string
	LastFailedAt  *time.Time
	NextProcessAt *time.Time
	tenantID      int
}

// QueueInfo is one queue's counts.
type QueueInfo struct {
	Name           string
	Paused         bool
	Size           int
	Pending        int
	Active         int
	Scheduled      int
	Retry          int
	Archived       int
	ProcessedToday int
	FailedToday    int
}

// Admin enqueues tasks for the API and shows queues and dead tasks to
// admins, one tenant's tasks at a time.
type Admin struct {
	client    *asynq.Client
	inspector *asynq.Inspector
}

// NewAdmin connects to the queues' Redis.
func NewAdmin(opt asynq.RedisConnOpt) *Admin {
	return &Admin{client: asynq.NewClient(opt), inspector: asynq.NewInspector(opt)}
}

// ErrNoQueues is returned by a nil Admin: the server runs without Redis
// queues (some tests).
var ErrNoQueues = errors.New("background jobs are not configured on this server")

// Close releases the connections.
func (a *Admin) Close() {
	a.client.Close()
	a.inspector.Close()
}

// Queues lists the queues with their counts (the deployment's).
func (a *Admin) Queues(context.Context) ([]QueueInfo, error) {
	if a == nil {
		return nil, ErrNoQueues
	}
	names, err := a.inspector.Queues()
	if err != nil {
		return nil, err
	}
	// Queues nothing was ever enqueued on are not known to asynq yet;
	// show every queue of ours.
	for _, q := range slices.Sorted(maps.Keys(queueWeights)) {
		if !slices.Contains(names, q) {
			names = append(names, q)
		}
	}
	out := make([]QueueInfo, 0, len(names))
	for _, name := range names {
		info, err := a.inspector.GetQueueInfo(name)
		if err != nil {
			out = append(out, QueueInfo{Name: name})
			continue
		}
		out = append(out, QueueInfo{Name: name, Paused: info.Paused, Size: info.Size, Pending: info.Pending,
			Active: info.Active, Scheduled: info.Scheduled, Retry: info.Retry, Archived: info.Archived,
			ProcessedToday: info.Processed, FailedToday: info.Failed})
	}
	return out, nil
}

// deadScanLimit bounds how many archived tasks one listing reads looking
// for the tenant's.
const deadScanLimit = 2000

// DeadJobs lists up to first of the tenant's archived tasks in queue.
func (a *Admin) DeadJobs(_ context.Context, tenantID int, queue string, first int) ([]Job, error) {
	if a == nil {
		return nil, ErrNoQueues
	}
	if first <= 0 || first > 100 {
		return nil, apperr.Invalid("first", "first must be between 1 and 100")
	}
	var out []Job
	for page := 1; (page-1)*100 < deadScanLimit && len(out) < first; page++ {
		tasks, err := a.inspector.ListArchivedTasks(queue, asynq.PageSize(100), asynq.Page(page))
		if err != nil {
			if errors.Is(err, asynq.ErrQueueNotFound) {
				return nil, nil
			}
			return nil, err
		}
		for _, t := range tasks {
			if j := jobOf(t); j.tenantID == tenantID && len(out) < first {
				out = append(out, j)
			}
		}
		if len(tasks) < 100 {
			break
		}
	}
	return out, nil
}

// Retry runs the tenant's archived task id in queue again.
func (a *Admin) Retry(_ context.Context, tenantID int, queue, id string) (*Job, error) {
	if a == nil {
		return nil, ErrNoQueues
	}
	t, err := a.inspector.GetTaskInfo(queue, id)
	if err != nil || jobOf(t).tenantID != tenantID {
		return nil, apperr.NotFound("no job %q in queue %q", id, queue)
	}
	if t.State != asynq.TaskStateArchived {
		return nil, apperr.Invalid("id", "only dead (archived) jobs can be retried; this one is %s", t.State)
	}
	if err := a.inspector.RunTask(queue, id); err != nil {
		return nil, err
	}
	if t, err = a.inspector.GetTaskInfo(queue, id); err != nil {
		return nil, err
	}
	j := jobOf(t)
	return &j, nil
}

// Enqueue adds t. When a task with its id is already waiting or running,
// that task is the answer (a sync asked for twice runs once); a dead one
// with the id is replaced.
func (a *Admin) Enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*Job, error) {
	if a == nil {
		return nil, ErrNoQueues
	}
	return enqueue(ctx, a.client, a.inspector, t, opts...)
}

func enqueue(ctx context.Context, c *asynq.Client, in *asynq.Inspector, t *asynq.Task, opts ...asynq.Option) (*Job, error) {
	info, err := c.EnqueueContext(ctx, t, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) && in != nil {
		queue, id := optionValues(opts)
		existing, gerr := in.GetTaskInfo(queue, id)
		if gerr != nil {
			return nil, err
		}
		switch existing.State {
		case asynq.TaskStateActive:
			// Running: what changed since it started needs one more run,
			// queued behind it (once, however often it is asked for).
			if strings.HasSuffix(id, againSuffix) {
				j := jobOf(existing)
				return &j, nil
			}
			return enqueue(ctx, c, in, t, append(opts, asynq.TaskID(id+againSuffix))...)
		case asynq.TaskStateArchived, asynq.TaskStateCompleted:
		default:
			j := jobOf(existing)
			return &j, nil
		}
		if derr := in.DeleteTask(queue, id); derr != nil {
			return nil, derr
		}
		info, err = c.EnqueueContext(ctx, t, opts...)
	}
	if err != nil {
		return nil, err
	}
	j := jobOf(info)
	return &j, nil
}

// againSuffix marks the run queued behind a running one.
const againSuffix = ":again"

// optionValues reads the queue and task id a task is enqueued with: the
// options given at enqueue time (tasks whose id matters carry none of
// their own).
func optionValues(opts []asynq.Option) (queue, id string) {
	queue = QueueDefault
	for _, o := range opts {
		switch o.Type() {
		case asynq.QueueOpt:
			queue = o.Value().(string)
		case asynq.TaskIDOpt:
			id = o.Value().(string)
		}
	}
	return queue, id
}

func jobOf(t *asynq.TaskInfo) Job {
	j := Job{ID: t.ID, Queue: t.Queue, Type: t.Type, State: JobState(stateName(t.State)),
		Retried: t.Retried, MaxRetry: t.MaxRetry}
	if t.LastErr != "" {
		msg := t.LastErr
		j.LastError = &msg
	}
	if !t.LastFailedAt.IsZero() {
		at := t.LastFailedAt
		j.LastFailedAt = &at
	}
	if !t.NextProcessAt.IsZero() {
		at := t.NextProcessAt
		j.NextProcessAt = &at
	}
	var p struct {
		TenantID int `json:"tenant_id"`
	}
	if json.Unmarshal(t.Payload, &p) == nil {
		j.tenantID = p.TenantID
	}
	return j
}

func stateName(s asynq.TaskState) string {
	switch s {
	case asynq.TaskStateActive:
		return "ACTIVE"
	case asynq.TaskStatePending:
		return "PENDING"
	case asynq.TaskStateScheduled:
		return "SCHEDULED"
	case asynq.TaskStateRetry:
		return "RETRY"
	case asynq.TaskStateArchived:
		return "ARCHIVED"
	case asynq.TaskStateCompleted:
		return "COMPLETED"
	default:
		return "AGGREGATING"
	}
}

// SyncNow starts the given kinds of sync of the account (all its
// platform's when none are given). A kind already waiting or running is
// not started twice: its job is the answer.
func (a *Admin) SyncNow(ctx context.Context, acc *ent.ConnectorAccount, kinds []SyncKind, now time.Time) ([]*Job, error) {
	if acc.Status == connectoraccount.StatusPaused {
		return nil, apperr.Invalid("id", "the account is paused; set it ACTIVE first")
	}
	allowed := KindsOf(acc.Platform)
	if len(kinds) == 0 {
		kinds = allowed
	}
	out := make([]*Job, 0, len(kinds))
	for _, k := range kinds {
		if !slices.Contains(allowed, k) {
			return nil, apperr.Invalid("kinds", "%s accounts have no %s sync; they have %v", acc.Platform, k, allowed)
		}
	}
	for _, k := range slices.Compact(slices.Sorted(slices.Values(kinds))) {
		task, opts, err := NewSyncAccount(SyncAccount{TenantID: acc.TenantID, AccountID: acc.ID, Kind: k, Window: "now"})
		if err != nil {
			return nil, err
		}
		j, err := a.Enqueue(ctx, task, opts...)
		if err != nil {
			return nil, fmt.Errorf("start the %s sync: %w", k, err)
		}
		out = append(out, j)
	}
	return out, nil
}
