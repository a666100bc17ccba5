package tickets

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/department"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/businesstime"
	"github.com/scrm-dev/scrm/internal/routing"
	"github.com/scrm-dev/scrm/internal/txhook"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// poolCache keeps each tenant's routing snapshot for a short while:
// reading 30,000 staff rows per ticket would cost more than deciding.
type poolCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[int]*poolEntry
}

type poolEntry struct {
	once  sync.Once
	pool  *routing.Pool
	names map[int]string // for explanations people read
	err   error
	built time.Time
}

func newPoolCache(ttl time.Duration) *poolCache {
	return &poolCache{ttl: ttl, m: map[int]*poolEntry{}}
}

// get returns a fresh enough pool for the tenant (by the wall clock, not
// the engine's); one caller builds it while the others wait for it.
func (pc *poolCache) get(ctx context.Context, c *ent.Client, tenantID int, now time.Time) (*poolEntry, error) {
	pc.mu.Lock()
	en := pc.m[tenantID]
	if en == nil || (!en.built.IsZero() && now.Sub(en.built) > pc.ttl) || en.err != nil {
		en = &poolEntry{}
		pc.m[tenantID] = en
	}
	pc.mu.Unlock()
	en.once.Do(func() {
		en.pool, en.names, en.err = buildPool(ctx, c)
		en.built = now
	})
	return en, en.err
}

// forget drops a tenant's snapshot (staff changed).
func (pc *poolCache) forget(tenantID int) {
	pc.mu.Lock()
	delete(pc.m, tenantID)
	pc.mu.Unlock()
}

// buildPool reads the tenant's active staff who can take tickets.
func buildPool(ctx context.Context, c *ent.Client) (*routing.Pool, map[int]string, error) {
	rows, err := c.Staff.Query().
		Where(staff.StatusEQ(staff.StatusActive), staff.CapacityGT(0)).
		Select(staff.FieldID, staff.FieldName, staff.FieldRoles, staff.FieldRegion, staff.FieldSkillTags, staff.FieldCapacity,
			staff.FieldOpenTickets, staff.FieldWorkingHours, staff.FieldCsatAverage, staff.FieldCsatCount,
			staff.FieldAvgResolutionSeconds, staff.FieldLastAssignedAt).
		WithDepartments(func(q *ent.DepartmentQuery) { q.Select(department.FieldID) }).
		All(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read staff for routing: %w", err)
	}
	list := make([]routing.Staff, 0, len(rows))
	names := make(map[int]string, len(rows))
	for _, s := range rows {
		if !authz.TakesTickets(s.Roles) {
			continue
		}
		st := routing.Staff{ID: s.ID, Name: s.Name, Region: s.Region, Skills: s.SkillTags,
			Capacity: s.Capacity, Load: s.OpenTickets, CSAT: s.CsatAverage, CSATCount: s.CsatCount,
			AvgResolution: time.Duration(s.AvgResolutionSeconds) * time.Second}
		if s.LastAssignedAt != nil {
			st.LastAssignedAt = *s.LastAssignedAt
		}
		for _, d := range s.Edges.Departments {
			st.Departments = append(st.Departments, d.ID)
		}
		if s.WorkingHours != nil && len(s.WorkingHours.Weekly)+len(s.WorkingHours.Workdays) > 0 {
			if cal, err := businesstime.Compile(*s.WorkingHours); err == nil {
				st.OnShift = cal.IsOpen
			}
		}
		list = append(list, st)
		names[s.ID] = s.Name
	}
	return routing.NewPool(list), names, nil
}

// routeRequest gathers what routing looks at for a ticket.
func routeRequest(ctx context.Context, c *ent.Client, t *ent.Ticket, now time.Time, exclude []int) (routing.Request, error) {
	req := routing.Request{Region: t.Region, Skills: t.RequiredSkills, Exclude: exclude, Now: now}
	if t.TeamID != nil {
		req.TeamID = *t.TeamID
	}
	if t.OrderID != nil {
		o, err := c.Order.Get(ctx, *t.OrderID)
		if err != nil && !ent.IsNotFound(err) {
			return req, err
		}
		if o != nil && o.StoreID != nil {
			req.StoreID = *o.StoreID
		}
	}
	if t.CustomerID != nil {
		cu, err := c.Customer.Query().Where(customer.ID(*t.CustomerID)).
			Select(customer.FieldProvince).Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return req, err
		}
		if cu != nil && req.Region == "" {
			req.Region = cu.Province
		}
		if req.Followers, err = c.Customer.Query().Where(customer.ID(*t.CustomerID)).QueryFollowers().IDs(ctx); err != nil {
			return req, err
		}
	}
	return req, nil
}

// errAtCapacity: the staff member's open tickets reached their capacity
// (or they stopped being active) since the snapshot.
var errAtCapacity = errors.New("at capacity")

// takeSlot counts one more open ticket for a staff member. strict refuses
// past capacity, in the same statement, so concurrent assignments on any
// replica cannot overfill an agent.
func takeSlot(ctx context.Context, c *ent.Client, staffID int, now time.Time, strict bool) error {
	u := c.Staff.Update().Where(staff.ID(staffID), staff.StatusEQ(staff.StatusActive)).
		AddOpenTickets(1).SetLastAssignedAt(now)
	if strict {
		u.Where(func(s *sql.Selector) { s.Where(sql.ColumnsLT(s.C(staff.FieldOpenTickets), s.C(staff.FieldCapacity))) })
	}
	n, err := u.Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return errAtCapacity
	}
	return nil
}

func releaseSlot(ctx context.Context, c *ent.Client, staffID int) error {
	return c.Staff.Update().Where(staff.ID(staffID), staff.OpenTicketsGT(0)).AddOpenTickets(-1).Exec(ctx)
}

// fairness is the per-agent cap on assignments per window, counted in
// Redis so that every replica shares it (Chatwoot's fair distribution).
var fairnessScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`)

func (e *Engine) fairnessTake(ctx context.Context, tt *ent.TicketType, tenantID, staffID int, now time.Time) (ok bool, undo func(), err error) {
	if e.redis == nil || tt == nil || tt.FairnessCap <= 0 {
		return true, func() {}, nil
	}
	window, err := time.ParseDuration(tt.FairnessWindow)
	if err != nil || window <= 0 {
		window = time.Hour
	}
	start := now.Truncate(window)
	key := "scrm:tickets:fair:" + strconv.Itoa(tenantID) + ":" + strconv.Itoa(staffID) + ":" + strconv.FormatInt(start.Unix(), 10)
	n, err := fairnessScript.Run(ctx, e.redis, []string{key}, tt.FairnessCap, (window + time.Minute).Milliseconds()).Int()
	if err != nil {
		return false, nil, fmt.Errorf("fairness counter: %w", err)
	}
	return n == 1, func() { e.redis.Decr(context.WithoutCancel(ctx), key) }, nil
}

// pick chooses an agent for the ticket and takes their slot (within
// capacity and the fairness cap), or returns nil when nobody fits. The
// reason says why, in words.
func (e *Engine) pick(ctx context.Context, c *ent.Client, t *ent.Ticket, exclude []int) (*int, string, error) {
	now := e.Now()
	tt, err := typeOf(ctx, c, t)
	if err != nil {
		return nil, "", err
	}
	cfg := routing.DefaultConfig()
	if tt != nil && len(tt.Routing.Steps) > 0 {
		cfg = tt.Routing
	}
	snap, err := e.pools.get(ctx, e.client, t.TenantID, time.Now())
	if err != nil {
		return nil, "", err
	}
	pool := snap.pool
	req, err := routeRequest(ctx, c, t, now, exclude)
	if err != nil {
		return nil, "", err
	}
	dec := pool.Route(cfg, req)
	skipped := 0
	for _, id := range dec.Ranking {
		fair, undo, err := e.fairnessTake(ctx, tt, t.TenantID, id, now)
		if err != nil {
			return nil, "", err
		}
		if !fair {
			skipped++
			continue
		}
		switch err := takeSlot(ctx, c, id, now, true); {
		case errors.Is(err, errAtCapacity):
			undo()
			continue
		case err != nil:
			undo()
			return nil, "", err
		}
		// name the pick for the people reading it
		reason := strings.Replace(dec.Explain(id), fmt.Sprintf("#%d", id), snap.names[id], 1)
		if skipped > 0 {
			reason += fmt.Sprintf("; %d ranked above at their fairness cap of %d per %s", skipped, tt.FairnessCap, tt.FairnessWindow)
		}
		return &id, reason, nil
	}
	reason := dec.Explain(0)
	if len(dec.Ranking) > 0 {
		reason += "; every ranked agent was at capacity or at the fairness cap"
	}
	return nil, reason, nil
}

// route assigns an existing ticket to the agent pick chooses, or leaves it
// in the team queue and tells the team's supervisor.
func (e *Engine) route(ctx context.Context, c *ent.Client, t *ent.Ticket, exclude []int) (*ent.Ticket, error) {
	id, reason, err := e.pick(ctx, c, t, exclude)
	if err != nil {
		return nil, err
	}
	if id != nil {
		return e.setAssignee(ctx, c, t, id, reason, false)
	}
	return e.queue(ctx, c, t, reason)
}

// queue leaves the ticket unassigned in its team's queue and tells the
// team's supervisor.
func (e *Engine) queue(ctx context.Context, c *ent.Client, t *ent.Ticket, reason string) (*ent.Ticket, error) {
	var err error
	if t.AssigneeID != nil {
		if t, err = e.setAssignee(ctx, c, t, nil, reason, false); err != nil {
			return nil, err
		}
	} else {
		if t, err = c.Ticket.UpdateOneID(t.ID).SetAssignmentReason("queued: " + reason).Save(ctx); err != nil {
			return nil, err
		}
		if err := e.record(ctx, c, t.ID, "QUEUED", "assignee", "", "", reason); err != nil {
			return nil, err
		}
	}
	return t, e.tellSupervisorQueued(ctx, c, t, reason)
}

func (e *Engine) tellSupervisorQueued(ctx context.Context, c *ent.Client, t *ent.Ticket, reason string) error {
	sup, err := supervisorAt(ctx, c, t, 1)
	if err != nil || sup == 0 {
		return err
	}
	e.notify(ctx, c, t.TenantID, []int{sup}, fmt.Sprintf("工单 %s「%s」无人可接，已进入队列：%s", t.Number, t.Title, reason),
		fmt.Sprintf("ticket:%d:queued:%d", t.ID, e.Now().UnixMilli()))
	return nil
}

// setAssignee moves the ticket to staffID (nil: the queue), keeping open
// ticket counts: the old assignee's slot is released; the new one's is
// taken unless slotTaken (routing took it already, within capacity).
// Manual assignment may exceed capacity: a supervisor's call.
func (e *Engine) setAssignee(ctx context.Context, c *ent.Client, t *ent.Ticket, staffID *int, reason string, takeNewSlot bool) (*ent.Ticket, error) {
	now := e.Now()
	open := workflow.Open(workflow.Status(t.Status))
	if t.AssigneeID != nil && open {
		if err := releaseSlot(ctx, c, *t.AssigneeID); err != nil {
			return nil, err
		}
	}
	u := c.Ticket.UpdateOneID(t.ID)
	before := idString(t.AssigneeID)
	if staffID == nil {
		u.ClearAssigneeID().ClearAssignedAt().SetAssignmentReason("queued: " + reason)
		if t.Status == ticket.StatusAssigned {
			u.SetStatus(ticket.StatusNew)
		}
	} else {
		if takeNewSlot && open {
			if err := takeSlot(ctx, c, *staffID, now, false); err != nil {
				if errors.Is(err, errAtCapacity) {
					return nil, apperr.Invalid("staffID", "staff member %d is not active", *staffID)
				}
				return nil, err
			}
		}
		u.SetAssigneeID(*staffID).SetAssignedAt(now).SetAssignmentReason(reason)
		if t.Status == ticket.StatusNew || t.Status == ticket.StatusReopened {
			u.SetStatus(ticket.StatusAssigned)
		}
	}
	saved, err := u.Save(ctx)
	if err != nil {
		return nil, err
	}
	if err := e.record(ctx, c, t.ID, "ASSIGNED", "assignee", before, idString(staffID), reason); err != nil {
		return nil, err
	}
	if staffID != nil {
		e.notify(ctx, c, t.TenantID, []int{*staffID}, fmt.Sprintf("新工单 %s「%s」已分配给你", t.Number, t.Title),
			fmt.Sprintf("ticket:%d:assigned:%d:%d", t.ID, *staffID, now.UnixMilli()))
		if err := e.scheduleClaimBack(ctx, c, saved); err != nil {
			return nil, err
		}
	}
	return saved, nil
}

func (e *Engine) scheduleClaimBack(ctx context.Context, c *ent.Client, t *ent.Ticket) error {
	if e.timers == nil || t.AssigneeID == nil || t.AssignedAt == nil || t.Status != ticket.StatusAssigned {
		return nil
	}
	tt, err := typeOf(ctx, c, t)
	if err != nil || tt == nil || tt.ClaimBackAfter == "" {
		return err
	}
	after, err := time.ParseDuration(tt.ClaimBackAfter)
	if err != nil || after <= 0 {
		return nil
	}
	tenantID, id, staffID, at := t.TenantID, t.ID, *t.AssigneeID, *t.AssignedAt
	txhook.AfterCommit(ctx, func() {
		if err := e.timers.ScheduleClaimBack(context.WithoutCancel(ctx), tenantID, id, staffID, at, at.Add(after)); err != nil {
			e.log.WarnContext(ctx, "schedule claim-back", "ticket", id, "err", err)
		}
	})
	return nil
}

// ClaimBack returns a ticket nobody picked up to the queue and routes it
// again, past the agent who let it sit. A timer that finds the ticket
// moved on, reassigned or picked up does nothing.
func (e *Engine) ClaimBack(ctx context.Context, ticketID, staffID int, assignedAt time.Time) error {
	return e.inTx(ctx, func(ctx context.Context, c *ent.Client) error {
		t, err := c.Ticket.Get(ctx, ticketID)
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if t.Status != ticket.StatusAssigned || t.AssigneeID == nil || *t.AssigneeID != staffID ||
			t.AssignedAt == nil || !t.AssignedAt.Equal(assignedAt) {
			return nil
		}
		if err := e.record(ctx, c, t.ID, "CLAIMED_BACK", "assignee", idString(t.AssigneeID), "",
			"not picked up in time"); err != nil {
			return err
		}
		_, err = e.route(ctx, c, t, []int{staffID})
		return err
	})
}

// supervisorAt is the level-th leader above the ticket's team (or the
// assignee's department when it has no team), skipping the assignee and
// repeated leaders; 0 when the tree runs out.
func supervisorAt(ctx context.Context, c *ent.Client, t *ent.Ticket, level int) (int, error) {
	var deptID *int
	if t.TeamID != nil {
		deptID = t.TeamID
	} else if t.AssigneeID != nil {
		ids, err := c.Staff.Query().Where(staff.ID(*t.AssigneeID)).QueryDepartments().IDs(ctx)
		if err != nil {
			return 0, err
		}
		if len(ids) > 0 {
			deptID = &ids[0]
		}
	}
	seen := map[int]bool{}
	if t.AssigneeID != nil {
		seen[*t.AssigneeID] = true
	}
	found := 0
	last := 0
	for range 32 {
		if deptID == nil {
			break
		}
		d, err := c.Department.Query().Where(department.ID(*deptID)).
			Select(department.FieldParentID, department.FieldLeaderID).Only(ctx)
		if err != nil {
			return 0, err
		}
		if d.LeaderID != nil && !seen[*d.LeaderID] {
			seen[*d.LeaderID] = true
			found++
			last = *d.LeaderID
			if found == level {
				return last, nil
			}
		}
		deptID = d.ParentID
	}
	return last, nil // past the top: the highest leader there is
}

func typeOf(ctx context.Context, c *ent.Client, t *ent.Ticket) (*ent.TicketType, error) {
	if t.TypeID == nil {
		return nil, nil
	}
	tt, err := c.TicketType.Get(ctx, *t.TypeID)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return tt, err
}

// idString is a staff id as clients see ids (opaque), for history entries.
func idString(id *int) string {
	if id == nil {
		return ""
	}
	return gid.Encode(*id)
}

// notify sends after commit: a rolled-back assignment tells nobody.
func (e *Engine) notify(ctx context.Context, c *ent.Client, tenantID int, staffIDs []int, text, key string) {
	if e.notifier == nil || len(staffIDs) == 0 {
		return
	}
	txhook.AfterCommit(ctx, func() {
		if err := e.notifier.NotifyStaff(context.WithoutCancel(ctx), tenantID, staffIDs, text, key); err != nil {
			e.log.WarnContext(ctx, "notify staff", "staff", staffIDs, "err", err)
		}
	})
}

// record writes a history entry.
func (e *Engine) record(ctx context.Context, c *ent.Client, ticketID int, kind, field, before, after, note string) error {
	cr := c.TicketChange.Create().SetTicketID(ticketID).SetKind(kind).SetField(field).
		SetBefore(clip(before, 255)).SetAfter(clip(after, 255)).SetNote(note).SetCreatedAt(e.Now())
	if a := actorID(ctx); a != nil {
		cr.SetActorID(*a)
	}
	return cr.Exec(ctx)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	for len(string(r)) > n {
		r = r[:len(r)-1]
	}
	return string(r)
}

func (pc *poolCache) forgetAll() {
	pc.mu.Lock()
	clear(pc.m)
	pc.mu.Unlock()
}
