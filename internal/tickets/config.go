package tickets

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/businesscalendar"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/ent/tickettype"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/businesstime"
	"github.com/scrm-dev/scrm/internal/routing"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// invalid turns a configuration package's error into BAD_USER_INPUT
// naming the input field.
func invalid(prefix string, err error) error {
	var we *workflow.Error
	var re *routing.ConfigError
	var be *businesstime.SpecError
	switch {
	case errors.As(err, &we):
		return apperr.Invalid(join(prefix, we.Field), "%s", we.Message)
	case errors.As(err, &re):
		return apperr.Invalid(join(prefix, re.Field), "%s", re.Message)
	case errors.As(err, &be):
		return apperr.Invalid(join(prefix, be.Field), "%s", be.Message)
	}
	return err
}

func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	if field == "" {
		return prefix
	}
	return prefix + "." + field
}

func optionalDuration(field, s string) error {
	if s == "" {
		return nil
	}
	_, err := workflow.ParseDuration(field, s)
	return invalid("", err)
}

// validateType checks everything a ticket type input sets.
func validateType(in TypeInput, create bool) error {
	if create {
		if in.Key == nil || in.Name == nil {
			return apperr.Invalid("key", "a ticket type needs a key and a name")
		}
	} else if in.Key != nil {
		return apperr.Invalid("key", "the key of a ticket type cannot change")
	}
	if in.Name != nil && strings.TrimSpace(*in.Name) == "" {
		return apperr.Invalid("name", "must not be empty")
	}
	for i, s := range in.DefaultForSources {
		if ticket.SourceValidator(ticket.Source(s)) != nil {
			return apperr.Invalid("defaultForSources", "unknown source %q at %d", s, i)
		}
	}
	if in.Workflow != nil {
		if err := in.Workflow.Validate(); err != nil {
			return invalid("workflow", err)
		}
	}
	if in.Routing != nil {
		if err := in.Routing.Validate(); err != nil {
			return invalid("routing", err)
		}
	}
	for _, d := range []struct {
		field string
		v     *string
	}{{"claimBackAfter", in.ClaimBackAfter}, {"fairnessWindow", in.FairnessWindow}, {"reopenWindow", in.ReopenWindow}} {
		if d.v != nil {
			if err := optionalDuration(d.field, *d.v); err != nil {
				return err
			}
		}
	}
	if in.FairnessCap != nil && *in.FairnessCap < 0 {
		return apperr.Invalid("fairnessCap", "must not be negative")
	}
	for i, k := range in.Keywords {
		if strings.TrimSpace(k) == "" || len([]rune(k)) > 32 {
			return apperr.Invalid("keywords", "keyword %d must be 1 to 32 characters", i)
		}
	}
	return nil
}

// CreateType adds a ticket type; a type without a workflow gets the
// default one.
func (e *Engine) CreateType(ctx context.Context, in TypeInput) (*ent.TicketType, error) {
	if err := validateType(in, true); err != nil {
		return nil, err
	}
	wf := DefaultWorkflow()
	if in.Workflow != nil {
		wf = *in.Workflow
	}
	rc := routing.DefaultConfig()
	if in.Routing != nil {
		rc = *in.Routing
	}
	c := e.db(ctx)
	cr := c.TicketType.Create().SetKey(*in.Key).SetName(*in.Name).SetWorkflow(wf).SetRouting(rc).
		SetDefaultForSources(nonNilSources(in.DefaultForSources)).
		SetNillableDescription(in.Description).SetNillableActive(in.Active).
		SetNillableClaimBackAfter(in.ClaimBackAfter).SetNillableFairnessCap(in.FairnessCap).
		SetNillableFairnessWindow(in.FairnessWindow).SetNillableReopenWindow(in.ReopenWindow).
		SetNillableSurveyFormID(in.SurveyFormID)
	if in.Keywords != nil {
		cr.SetKeywords(in.Keywords)
	}
	return cr.Save(ctx)
}

// UpdateType changes a ticket type. Tickets keep their status; a status
// the new workflow no longer leaves can still be left by reassigning or
// by moves the new workflow allows.
func (e *Engine) UpdateType(ctx context.Context, id int, in TypeInput) (*ent.TicketType, error) {
	if err := validateType(in, false); err != nil {
		return nil, err
	}
	u := e.db(ctx).TicketType.UpdateOneID(id).
		SetNillableName(in.Name).SetNillableDescription(in.Description).SetNillableActive(in.Active).
		SetNillableClaimBackAfter(in.ClaimBackAfter).SetNillableFairnessCap(in.FairnessCap).
		SetNillableFairnessWindow(in.FairnessWindow).SetNillableReopenWindow(in.ReopenWindow).
		SetNillableSurveyFormID(in.SurveyFormID)
	if in.Workflow != nil {
		u.SetWorkflow(*in.Workflow)
	}
	if in.Routing != nil {
		u.SetRouting(*in.Routing)
	}
	if in.DefaultForSources != nil {
		u.SetDefaultForSources(in.DefaultForSources)
	}
	if in.Keywords != nil {
		u.SetKeywords(in.Keywords)
	}
	return u.Save(ctx)
}

func nonNilSources(s []workflow.Source) []workflow.Source {
	if s == nil {
		return []workflow.Source{}
	}
	return s
}

func validatePolicy(in SLAPolicyInput, create bool) error {
	if create && (in.Name == nil || in.Targets == nil) {
		return apperr.Invalid("targets", "an SLA policy needs a name and targets")
	}
	if in.Name != nil && strings.TrimSpace(*in.Name) == "" {
		return apperr.Invalid("name", "must not be empty")
	}
	if in.Targets != nil {
		d, err := in.Targets.Parse()
		if err != nil {
			return invalid("", err)
		}
		if err := workflow.ValidateEscalations(in.Escalations, d); err != nil {
			return invalid("", err)
		}
	} else if in.Escalations != nil {
		return apperr.Invalid("targets", "give the targets with the escalations, which refer to them")
	}
	if c := in.Condition; c != nil {
		for _, p := range c.Priorities {
			if ticket.PriorityValidator(ticket.Priority(p)) != nil {
				return apperr.Invalid("condition.priorities", "unknown priority %q", p)
			}
		}
		for _, s := range c.Sources {
			if ticket.SourceValidator(ticket.Source(s)) != nil {
				return apperr.Invalid("condition.sources", "unknown source %q", s)
			}
		}
	}
	return nil
}

// checkTypeIDs refuses a condition naming ticket types that are not the
// tenant's (the query is confined to the caller's tenant).
func (e *Engine) checkTypeIDs(ctx context.Context, c *workflow.Condition) error {
	if c == nil || len(c.TypeIDs) == 0 {
		return nil
	}
	ids := slices.Compact(slices.Sorted(slices.Values(c.TypeIDs)))
	n, err := e.db(ctx).TicketType.Query().Where(tickettype.IDIn(ids...)).Count(ctx)
	if err != nil {
		return err
	}
	if n != len(ids) {
		return apperr.Invalid("condition.typeIDs", "names a ticket type that does not exist")
	}
	return nil
}

// CreateSLAPolicy adds a policy.
func (e *Engine) CreateSLAPolicy(ctx context.Context, in SLAPolicyInput) (*ent.SLAPolicy, error) {
	defer e.forgetConfig(ctx)
	if err := validatePolicy(in, true); err != nil {
		return nil, err
	}
	if err := e.checkTypeIDs(ctx, in.Condition); err != nil {
		return nil, err
	}
	cond := workflow.Condition{}
	if in.Condition != nil {
		cond = *in.Condition
	}
	esc := in.Escalations
	if esc == nil {
		esc = []workflow.EscalationRule{}
	}
	return e.db(ctx).SLAPolicy.Create().SetName(*in.Name).SetTargets(*in.Targets).SetCondition(cond).
		SetEscalations(esc).SetNillablePosition(in.Position).SetNillableActive(in.Active).
		SetNillableBusinessHours(in.BusinessHours).SetNillableCalendarID(in.CalendarID).Save(ctx)
}

// UpdateSLAPolicy changes a policy. Open tickets keep the due times they
// have until they next change (priority, status, a response).
func (e *Engine) UpdateSLAPolicy(ctx context.Context, id int, in SLAPolicyInput) (*ent.SLAPolicy, error) {
	defer e.forgetConfig(ctx)
	if in.Targets == nil && in.Escalations != nil {
		p, err := e.db(ctx).SLAPolicy.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		in.Targets = &p.Targets
	}
	if err := validatePolicy(in, false); err != nil {
		return nil, err
	}
	if err := e.checkTypeIDs(ctx, in.Condition); err != nil {
		return nil, err
	}
	u := e.db(ctx).SLAPolicy.UpdateOneID(id).SetNillableName(in.Name).SetNillablePosition(in.Position).
		SetNillableActive(in.Active).SetNillableBusinessHours(in.BusinessHours).SetNillableCalendarID(in.CalendarID)
	if in.Targets != nil {
		u.SetTargets(*in.Targets)
	}
	if in.Condition != nil {
		u.SetCondition(*in.Condition)
	}
	if in.Escalations != nil {
		u.SetEscalations(in.Escalations)
	}
	return u.Save(ctx)
}

// DeleteSLAPolicy removes a policy; tickets under it lose their due times
// when they next change, or at their next escalation.
func (e *Engine) DeleteSLAPolicy(ctx context.Context, id int) error {
	defer e.forgetConfig(ctx)
	c := e.db(ctx)
	if _, err := c.Ticket.Update().Where(ticket.SLAPolicyID(id)).ClearSLAPolicyID().Save(ctx); err != nil {
		return err
	}
	return c.SLAPolicy.DeleteOneID(id).Exec(ctx)
}

// CreateCalendar adds a business calendar; a default one replaces the
// previous default.
func (e *Engine) CreateCalendar(ctx context.Context, in CalendarInput) (*ent.BusinessCalendar, error) {
	defer e.forgetConfig(ctx)
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		return nil, apperr.Invalid("name", "a calendar needs a name")
	}
	if in.Spec == nil {
		return nil, apperr.Invalid("spec", "a calendar needs its working hours")
	}
	if _, err := businesstime.Compile(*in.Spec); err != nil {
		return nil, invalid("spec", err)
	}
	var out *ent.BusinessCalendar
	err := e.inTx(ctx, func(ctx context.Context, c *ent.Client) error {
		if in.IsDefault != nil && *in.IsDefault {
			if err := c.BusinessCalendar.Update().Where(businesscalendar.IsDefault(true)).SetIsDefault(false).Exec(ctx); err != nil {
				return err
			}
		}
		var err error
		out, err = c.BusinessCalendar.Create().SetName(*in.Name).SetSpec(*in.Spec).SetNillableIsDefault(in.IsDefault).Save(ctx)
		return err
	})
	return out, err
}

// UpdateCalendar changes a calendar.
func (e *Engine) UpdateCalendar(ctx context.Context, id int, in CalendarInput) (*ent.BusinessCalendar, error) {
	defer e.forgetConfig(ctx)
	if in.Name != nil && strings.TrimSpace(*in.Name) == "" {
		return nil, apperr.Invalid("name", "must not be empty")
	}
	if in.Spec != nil {
		if _, err := businesstime.Compile(*in.Spec); err != nil {
			return nil, invalid("spec", err)
		}
	}
	var out *ent.BusinessCalendar
	err := e.inTx(ctx, func(ctx context.Context, c *ent.Client) error {
		if in.IsDefault != nil && *in.IsDefault {
			if err := c.BusinessCalendar.Update().Where(businesscalendar.IsDefault(true), businesscalendar.IDNEQ(id)).
				SetIsDefault(false).Exec(ctx); err != nil {
				return err
			}
		}
		u := c.BusinessCalendar.UpdateOneID(id).SetNillableName(in.Name).SetNillableIsDefault(in.IsDefault)
		if in.Spec != nil {
			u.SetSpec(*in.Spec)
		}
		var err error
		out, err = u.Save(ctx)
		return err
	})
	return out, err
}

// db is the caller's transaction client, or the engine's client.
func (e *Engine) db(ctx context.Context) *ent.Client {
	if tx := ent.TxFromContext(ctx); tx != nil {
		return tx.Client()
	}
	return e.client
}
