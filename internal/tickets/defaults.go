package tickets

import (
	"context"
	"fmt"
	"slices"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/form"
	"github.com/scrm-dev/scrm/ent/schema/schematype"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/ent/tickettype"
	"github.com/scrm-dev/scrm/internal/businesstime"
	"github.com/scrm-dev/scrm/internal/routing"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// DefaultCalendar is a new tenant's working time: weekdays 09:00–12:00
// and 13:30–18:00, China time. Public holidays and make-up days change
// every year (the State Council publishes them each autumn), so admins add
// them; none are guessed here.
func DefaultCalendar() businesstime.Spec {
	day := func(name string) businesstime.DayHours {
		return businesstime.DayHours{Weekday: name, Windows: []businesstime.Window{{Start: "09:00", End: "12:00"}, {Start: "13:30", End: "18:00"}}}
	}
	return businesstime.Spec{TimeZone: "Asia/Shanghai", Weekly: []businesstime.DayHours{
		day("MONDAY"), day("TUESDAY"), day("WEDNESDAY"), day("THURSDAY"), day("FRIDAY")}}
}

// InstallDefaults gives a tenant that has no ticket types the defaults:
// a calendar, a satisfaction survey, four types and three SLA policies.
// It does nothing for a tenant that has types. ctx must carry the tenant.
func InstallDefaults(ctx context.Context, c *ent.Client) error {
	if n, err := c.TicketType.Query().Count(ctx); err != nil || n > 0 {
		return err
	}
	tx, err := c.Tx(ctx)
	if err != nil {
		return err
	}
	if err := installDefaults(ctx, tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func installDefaults(ctx context.Context, c *ent.Client) error {
	if err := c.BusinessCalendar.Create().SetName("工作日").SetIsDefault(true).SetSpec(DefaultCalendar()).Exec(ctx); err != nil {
		return err
	}
	comment := "有什么可以做得更好？"
	survey, err := c.Form.Create().SetName("服务满意度调查").SetStatus(form.StatusPublished).
		SetDescription("工单关闭后发给客户的评价").
		SetFields([]schematype.FormField{
			{Key: "rating", Label: "本次服务您满意吗（1-5 分）", Type: schematype.FormFieldSelect, Required: true, Options: []string{"1", "2", "3", "4", "5"}},
			{Key: "comment", Label: "留言", Type: schematype.FormFieldTextarea, HelpText: &comment},
		}).Save(ctx)
	if err != nil {
		return err
	}
	wf := DefaultWorkflow()
	refund := DefaultWorkflow()
	for i, t := range refund.Transitions {
		if t.To == "RESOLVED" {
			refund.Transitions[i].Required = []string{"comment", "customFields.refund_amount"}
			refund.Transitions[i].Approvals = []workflow.ApprovalStep{{
				Name: "退款审批", Approver: workflow.ApproverRole, Role: "supervisor", Mode: workflow.ModeAnyOf,
				Threshold: &workflow.Threshold{Field: "refund_amount", AboveFen: 5_000_000, MinApprovers: 2},
			}}
			refund.Transitions[i].RejectTo = "IN_PROGRESS"
		}
	}
	complaint := routing.Config{Steps: []routing.Step{
		{Kind: routing.StepSkills, Required: true}, {Kind: routing.StepRegion}, {Kind: routing.StepFollower},
		{Kind: routing.StepLeastLoaded}}, CSATWeight: 0.5, ResolutionWeight: 0.1}
	types := []*ent.TicketTypeCreate{
		c.TicketType.Create().SetKey("AFTER_SALES").SetName("售后").SetDefaultForSources([]workflow.Source{"MANUAL", "API"}).
			SetWorkflow(wf).SetRouting(routing.DefaultConfig()).SetClaimBackAfter("30m").SetSurveyFormID(survey.ID),
		c.TicketType.Create().SetKey("REFUND").SetName("退货退款").SetDefaultForSources([]workflow.Source{"ORDER_RETURN"}).
			SetWorkflow(refund).SetRouting(routing.DefaultConfig()).SetClaimBackAfter("30m").SetSurveyFormID(survey.ID),
		c.TicketType.Create().SetKey("COMPLAINT").SetName("投诉").SetDefaultForSources([]workflow.Source{"WECOM"}).
			SetWorkflow(wf).SetRouting(complaint).SetKeywords([]string{"投诉", "差评", "举报"}).SetSurveyFormID(survey.ID),
		c.TicketType.Create().SetKey("CONSULTATION").SetName("咨询").SetDefaultForSources([]workflow.Source{"FORM", "MINI_PROGRAM"}).
			SetWorkflow(wf).SetRouting(routing.DefaultConfig()).SetSurveyFormID(survey.ID),
	}
	saved, err := c.TicketType.CreateBulk(types...).Save(ctx)
	if err != nil {
		return err
	}
	complaintID := saved[2].ID
	esc := func(target workflow.Target, pct int, actions ...workflow.Action) workflow.EscalationRule {
		return workflow.EscalationRule{Target: target, AtPercent: pct, Actions: actions}
	}
	policies := []*ent.SLAPolicyCreate{
		c.SLAPolicy.Create().SetName("紧急").SetPosition(10).SetBusinessHours(false).
			SetCondition(workflow.Condition{Priorities: []workflow.Priority{"URGENT"}}).
			SetTargets(workflow.Targets{FirstResponse: "30m", NextUpdate: "2h", Resolution: "8h"}).
			SetEscalations([]workflow.EscalationRule{
				esc(workflow.FirstResponse, 80, workflow.NotifyAssignee),
				esc(workflow.FirstResponse, 100, workflow.NotifySupervisor, workflow.BumpLevel),
				esc(workflow.Resolution, 100, workflow.NotifySupervisor, workflow.ReassignSupervisor, workflow.BumpLevel),
			}),
		c.SLAPolicy.Create().SetName("投诉").SetPosition(20).
			SetCondition(workflow.Condition{TypeIDs: []int{complaintID}}).
			SetTargets(workflow.Targets{FirstResponse: "1h", NextUpdate: "4h", Resolution: "24h"}).
			SetEscalations([]workflow.EscalationRule{
				esc(workflow.FirstResponse, 100, workflow.NotifyAssignee, workflow.NotifySupervisor, workflow.BumpLevel),
				esc(workflow.Resolution, 100, workflow.NotifySupervisor, workflow.RaisePriority, workflow.BumpLevel),
			}),
		c.SLAPolicy.Create().SetName("标准").SetPosition(100).
			SetCondition(workflow.Condition{}).
			SetTargets(workflow.Targets{FirstResponse: "4h", NextUpdate: "24h", Resolution: "48h"}).
			SetEscalations([]workflow.EscalationRule{
				esc(workflow.FirstResponse, 80, workflow.NotifyAssignee),
				esc(workflow.FirstResponse, 100, workflow.NotifyAssignee, workflow.NotifySupervisor, workflow.BumpLevel),
				esc(workflow.Resolution, 75, workflow.NotifyAssignee),
				esc(workflow.Resolution, 100, workflow.NotifySupervisor, workflow.RaisePriority, workflow.BumpLevel),
				esc(workflow.Resolution, 150, workflow.ReassignSupervisor, workflow.BumpLevel),
			}),
	}
	return c.SLAPolicy.CreateBulk(policies...).Exec(ctx)
}

// InstallMissingDefaults gives every tenant without ticket types the
// defaults (tenants created before the workflow engine); it returns how
// many it filled.
func InstallMissingDefaults(ctx context.Context, c *ent.Client) (int, error) {
	ids, err := c.Tenant.Query().IDs(viewer.System(ctx))
	if err != nil {
		return 0, err
	}
	have, err := c.TicketType.Query().Where(tickettype.KeyNEQ("")).Unique(true).
		Select(tickettype.FieldTenantID).Ints(viewer.System(ctx))
	if err != nil {
		return 0, err
	}
	filled := 0
	for _, id := range ids {
		if slices.Contains(have, id) {
			continue
		}
		if err := InstallDefaults(viewer.ForTenant(ctx, id), c); err != nil {
			return filled, fmt.Errorf("ticket defaults of tenant %d: %w", id, err)
		}
		filled++
	}
	return filled, nil
}

// RecountOpenTickets sets every staff member's open-ticket count of the
// tenant in ctx from their tickets: for data loaded around the engine
// (seeds, imports).
func RecountOpenTickets(ctx context.Context, c *ent.Client) error {
	var rows []struct {
		AssigneeID int `json:"assignee_id"`
		Count      int `json:"count"`
	}
	err := c.Ticket.Query().Where(ticket.AssigneeIDNotNil(), ticket.StatusNotIn(ticket.StatusResolved, ticket.StatusClosed)).
		GroupBy(ticket.FieldAssigneeID).Aggregate(ent.Count()).Scan(ctx, &rows)
	if err != nil {
		return err
	}
	if err := c.Staff.Update().SetOpenTickets(0).Exec(ctx); err != nil {
		return err
	}
	for _, r := range rows {
		if err := c.Staff.UpdateOneID(r.AssigneeID).SetOpenTickets(r.Count).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}
