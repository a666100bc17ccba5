package tickets

import (
	"context"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/department"
	"github.com/scrm-dev/scrm/ent/predicate"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/internal/apperr"
)

// metricsRowCap bounds the tickets one metrics request reads: a year of a
// large chain's tickets is fine, an unbounded scan is not.
const metricsRowCap = 200_000

// Metrics computes a supervisor's figures over tickets opened in [from,
// to), within the caller's data scope, optionally for some teams.
func (e *Engine) Metrics(ctx context.Context, from, to time.Time, teamIDs []int) (*Metrics, error) {
	if !to.After(from) {
		return nil, apperr.Invalid("to", "must be after from")
	}
	if to.Sub(from) > 400*24*time.Hour {
		return nil, apperr.Invalid("to", "the range is at most 400 days")
	}
	c := e.db(ctx)
	q := c.Ticket.Query().Where(ticket.CreatedAtGTE(from), ticket.CreatedAtLT(to))
	if len(teamIDs) > 0 {
		q.Where(ticket.TeamIDIn(teamIDs...))
	}
	rows, err := q.Select(ticket.FieldCreatedAt, ticket.FieldFirstRespondedAt, ticket.FieldResolvedAt,
		ticket.FieldReopenedAt, ticket.FieldSLAPolicyID, ticket.FieldFirstResponseBreachedAt,
		ticket.FieldResolutionBreachedAt, ticket.FieldFirstResponseDueAt, ticket.FieldResolutionDueAt,
		ticket.FieldStatus, ticket.FieldCsatStaffID, ticket.FieldCsat, ticket.FieldClosedAt).
		Limit(metricsRowCap + 1).All(ctx)
	if err != nil {
		return nil, err
	}
	if len(rows) > metricsRowCap {
		return nil, apperr.Invalid("from", "more than %d tickets in the range: narrow it", metricsRowCap)
	}
	now := e.Now()
	m := &Metrics{From: from, To: to, Opened: len(rows)}
	var fr, res []float64
	withSLA, breached := 0, 0
	type agg struct{ sum, n int }
	csat := map[int]*agg{}
	for _, t := range rows {
		if t.FirstRespondedAt != nil {
			fr = append(fr, t.FirstRespondedAt.Sub(t.CreatedAt).Seconds())
		}
		if t.ResolvedAt != nil {
			res = append(res, t.ResolvedAt.Sub(slaStart(t)).Seconds())
		}
		if t.SLAPolicyID != nil || t.FirstResponseDueAt != nil || t.ResolutionDueAt != nil {
			withSLA++
			late := t.FirstResponseBreachedAt != nil || t.ResolutionBreachedAt != nil ||
				(t.FirstRespondedAt == nil && t.FirstResponseDueAt != nil && now.After(*t.FirstResponseDueAt)) ||
				(t.ResolvedAt == nil && t.ClosedAt == nil && t.ResolutionDueAt != nil && now.After(*t.ResolutionDueAt))
			if late {
				breached++
			}
		}
		if t.Csat != nil && t.CsatStaffID != nil {
			a := csat[*t.CsatStaffID]
			if a == nil {
				a = &agg{}
				csat[*t.CsatStaffID] = a
			}
			a.sum += *t.Csat
			a.n++
		}
	}
	m.FirstResponse, m.Resolution = durationStats(fr), durationStats(res)
	if withSLA > 0 {
		m.SLABreachRate = float64(breached) / float64(withSLA)
	}
	if m.Backlog, err = backlog(ctx, c, teamIDs, now); err != nil {
		return nil, err
	}
	if len(csat) > 0 {
		ids := make([]int, 0, len(csat))
		for id := range csat {
			ids = append(ids, id)
		}
		people, err := c.Staff.Query().Where(staff.IDIn(ids...)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range people {
			a := csat[p.ID]
			m.CsatByAgent = append(m.CsatByAgent, AgentSatisfaction{Staff: p, Average: float64(a.sum) / float64(a.n), Count: a.n})
		}
		sort.Slice(m.CsatByAgent, func(i, j int) bool {
			a, b := m.CsatByAgent[i], m.CsatByAgent[j]
			if a.Average != b.Average {
				return a.Average > b.Average
			}
			return a.Staff.ID < b.Staff.ID
		})
	}
	return m, nil
}

// ageBuckets are the backlog's age limits: 1 h, 4 h, 1 day, 3 days.
var ageBuckets = []time.Duration{time.Hour, 4 * time.Hour, 24 * time.Hour, 72 * time.Hour}

// backlog counts open tickets now, by team and age.
func backlog(ctx context.Context, c *ent.Client, teamIDs []int, now time.Time) ([]BacklogRow, error) {
	q := c.Ticket.Query().Where(ticket.StatusNotIn(ticket.StatusResolved, ticket.StatusClosed))
	if len(teamIDs) > 0 {
		q.Where(ticket.TeamIDIn(teamIDs...))
	}
	open, err := q.Select(ticket.FieldTeamID, ticket.FieldCreatedAt).Limit(metricsRowCap).All(ctx)
	if err != nil {
		return nil, err
	}
	rows := map[int]*BacklogRow{} // 0: no team
	for _, t := range open {
		key := 0
		if t.TeamID != nil {
			key = *t.TeamID
		}
		r := rows[key]
		if r == nil {
			r = &BacklogRow{ByAge: make([]int, len(ageBuckets)+1)}
			rows[key] = r
		}
		age := now.Sub(t.CreatedAt)
		i, _ := slices.BinarySearchFunc(ageBuckets, age, func(b, a time.Duration) int {
			if b <= a {
				return -1
			}
			return 1
		})
		r.ByAge[i]++
		r.Total++
	}
	var ids []int
	for id := range rows {
		if id != 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) > 0 {
		teams, err := c.Department.Query().Where(departmentIDIn(ids)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range teams {
			rows[d.ID].Team = d
		}
	}
	keys := make([]int, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]BacklogRow, 0, len(keys))
	for _, k := range keys {
		out = append(out, *rows[k])
	}
	return out, nil
}

// durationStats are the count and the 50th and 90th percentiles
// (nearest rank).
func durationStats(s []float64) DurationStats {
	d := DurationStats{Count: len(s)}
	if len(s) == 0 {
		return d
	}
	slices.Sort(s)
	p := func(q float64) *float64 {
		v := s[max(0, int(math.Ceil(q*float64(len(s))))-1)]
		return &v
	}
	d.P50, d.P90 = p(0.5), p(0.9)
	return d
}

func departmentIDIn(ids []int) predicate.Department { return department.IDIn(ids...) }
