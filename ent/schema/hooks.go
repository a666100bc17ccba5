package schema

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"entgo.io/ent"

	gen "github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/campaign"
	"github.com/scrm-dev/scrm/ent/form"
	"github.com/scrm-dev/scrm/ent/formsubmission"
	"github.com/scrm-dev/scrm/ent/hook"
	"github.com/scrm-dev/scrm/ent/order"
	"github.com/scrm-dev/scrm/ent/schema/schematype"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/customerstats"
	"github.com/scrm-dev/scrm/internal/viewer"
)

const (
	opWrite  = ent.OpCreate | ent.OpUpdate | ent.OpUpdateOne
	opChange = opWrite | ent.OpDelete | ent.OpDeleteOne
)

// validateOrderAmounts refuses refunds larger than the payment.
func validateOrderAmounts() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.OrderFunc(func(ctx context.Context, m *gen.OrderMutation) (gen.Value, error) {
			paid, paidSet := m.PaidAmount()
			refunded, refundedSet := m.RefundedAmount()
			if !paidSet && !refundedSet {
				return next.Mutate(ctx, m)
			}
			var err error
			if !paidSet && m.Op().Is(ent.OpUpdateOne) {
				paid, err = m.OldPaidAmount(ctx)
			}
			if !refundedSet && m.Op().Is(ent.OpUpdateOne) && err == nil {
				refunded, err = m.OldRefundedAmount(ctx)
			}
			if err != nil {
				return nil, err
			}
			if refunded > paid {
				return nil, apperr.Invalid("refundedAmount", "cannot exceed the paid amount (%d fen)", paid)
			}
			return next.Mutate(ctx, m)
		})
	}, ent.OpCreate|ent.OpUpdateOne)
}

// keepCustomerTotals recomputes the totals of every customer an order write
// touches (the order's customer before and after the write), in the same
// transaction when the write has one.
func keepCustomerTotals() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.OrderFunc(func(ctx context.Context, m *gen.OrderMutation) (gen.Value, error) {
			if customerstats.IsDeferred(ctx) || !changesTotals(m) {
				return next.Mutate(ctx, m)
			}
			affected, err := customersBefore(ctx, m)
			if err != nil {
				return nil, err
			}
			v, err := next.Mutate(ctx, m)
			if err != nil {
				return v, err
			}
			if id, ok := m.CustomerID(); ok {
				affected = append(affected, id)
			}
			if err := customerstats.Recompute(ctx, m, affected); err != nil {
				return nil, err
			}
			return v, nil
		})
	}, opChange)
}

// customersBefore returns the customers of the orders a write is about to
// change. A single-row update reads the old row, which ent caches for the
// mutation (validateOrderAmounts may already have read it); bulk writes
// look their rows up.
func customersBefore(ctx context.Context, m *gen.OrderMutation) ([]int, error) {
	switch {
	case m.Op().Is(ent.OpCreate):
		return nil, nil
	case m.Op().Is(ent.OpUpdateOne):
		old, err := m.OldCustomerID(ctx)
		if err != nil || old == nil {
			return nil, err
		}
		return []int{*old}, nil
	}
	ids, err := m.IDs(ctx)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return m.Client().Order.Query().
		Where(order.IDIn(ids...), order.CustomerIDNotNil()).
		Select(order.FieldCustomerID).
		Ints(ctx)
}

func changesTotals(m *gen.OrderMutation) bool {
	if m.Op().Is(ent.OpCreate | ent.OpDelete | ent.OpDeleteOne) {
		return true
	}
	for _, f := range m.Fields() {
		switch f {
		case order.FieldStatus, order.FieldPaidAmount, order.FieldRefundedAmount, order.FieldPlacedAt, order.FieldCustomerID:
			return true
		}
	}
	return slices.Contains(m.ClearedFields(), order.FieldCustomerID)
}

// assignTicketNumber gives each new ticket the next number of its tenant.
// The counter row stays locked until the surrounding transaction ends, so
// numbers are unique and, like auto-increment ids, may skip after a
// rollback.
func assignTicketNumber() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.TicketFunc(func(ctx context.Context, m *gen.TicketMutation) (gen.Value, error) {
			if _, ok := m.Number(); ok {
				return next.Mutate(ctx, m)
			}
			tenantID, ok := m.TenantID()
			if !ok {
				return nil, errors.New("ticket number: tenant not set")
			}
			seq, err := nextTicketSeq(ctx, m, tenantID)
			if err != nil {
				return nil, fmt.Errorf("ticket number: %w", err)
			}
			m.SetNumber(fmt.Sprintf("T-%06d", seq))
			return next.Mutate(ctx, m)
		})
	}, ent.OpCreate)
}

func nextTicketSeq(ctx context.Context, m *gen.TicketMutation, tenantID int) (int64, error) {
	if tx, err := m.Tx(); err == nil {
		t, err := tx.Tenant.UpdateOneID(tenantID).AddTicketSeq(1).Save(ctx)
		if err != nil {
			return 0, err
		}
		return t.TicketSeq, nil
	}
	tx, err := m.Client().Tx(ctx)
	if err != nil {
		return 0, err
	}
	t, err := tx.Tenant.UpdateOneID(tenantID).AddTicketSeq(1).Save(ctx)
	if err != nil {
		return 0, errors.Join(err, tx.Rollback())
	}
	return t.TicketSeq, tx.Commit()
}

// stampTicketStatusTimes records when a ticket was resolved and closed, and
// forgets it when the ticket is reopened.
func stampTicketStatusTimes() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.TicketFunc(func(ctx context.Context, m *gen.TicketMutation) (gen.Value, error) {
			status, ok := m.Status()
			if !ok {
				return next.Mutate(ctx, m)
			}
			at := now()
			switch status {
			case ticket.StatusResolved:
				m.SetResolvedAt(at)
				if !m.Op().Is(ent.OpCreate) {
					m.ClearClosedAt()
				}
			case ticket.StatusClosed:
				m.SetClosedAt(at)
			default:
				if !m.Op().Is(ent.OpCreate) {
					m.ClearResolvedAt()
					m.ClearClosedAt()
				}
			}
			return next.Mutate(ctx, m)
		})
	}, opWrite)
}

// stampCommentAuthor makes the signed-in staff member the author of the
// comments they write.
func stampCommentAuthor() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.TicketCommentFunc(func(ctx context.Context, m *gen.TicketCommentMutation) (gen.Value, error) {
			if _, set := m.AuthorID(); !set {
				if v := viewer.FromContext(ctx); v != nil && v.StaffID != 0 {
					m.SetAuthorID(v.StaffID)
				}
			}
			return next.Mutate(ctx, m)
		})
	}, ent.OpCreate)
}

// bumpFormVersion validates a form's field definitions and bumps its version
// when the fields of a form that has left draft change, so submissions
// record which definition they answered.
func bumpFormVersion() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.FormFunc(func(ctx context.Context, m *gen.FormMutation) (gen.Value, error) {
			fields, set := m.GetFields()
			appended, appending := m.AppendedFields()
			if !set && !appending {
				return next.Mutate(ctx, m)
			}
			if !set && m.Op().Is(ent.OpUpdateOne) {
				old, err := m.OldFields(ctx)
				if err != nil {
					return nil, err
				}
				fields = old
			}
			if err := schematype.ValidateFormFields(append(slices.Clip(fields), appended...)); err != nil {
				return nil, formFieldError(err)
			}
			if m.Op().Is(ent.OpUpdateOne) {
				status, err := m.OldStatus(ctx)
				if err != nil {
					return nil, err
				}
				if status != form.StatusDraft {
					m.AddVersion(1)
				}
			}
			return next.Mutate(ctx, m)
		})
	}, ent.OpCreate|ent.OpUpdateOne)
}

// checkSubmissionAgainstForm accepts answers only to published forms, checks
// them against the form's fields, and records the form version answered.
func checkSubmissionAgainstForm() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.FormSubmissionFunc(func(ctx context.Context, m *gen.FormSubmissionMutation) (gen.Value, error) {
			creating := m.Op().Is(ent.OpCreate)
			status, statusSet := m.Status()
			data, dataSet := m.Data()
			if !creating && !statusSet && !dataSet {
				return next.Mutate(ctx, m)
			}
			formID, _ := m.FormID()
			if creating {
				if status == formsubmission.StatusSubmitted {
					m.SetSubmittedAt(now())
				}
			} else {
				oldStatus, err := m.OldStatus(ctx)
				if err != nil {
					return nil, err
				}
				if oldStatus == formsubmission.StatusSubmitted && statusSet && status == formsubmission.StatusDraft {
					return nil, apperr.Invalid("status", "a submitted answer cannot go back to draft")
				}
				if statusSet && status == formsubmission.StatusSubmitted && oldStatus == formsubmission.StatusDraft {
					m.SetSubmittedAt(now())
				}
				if !statusSet {
					status = oldStatus
				}
				if !dataSet {
					if data, err = m.OldData(ctx); err != nil {
						return nil, err
					}
				}
				if formID, err = m.OldFormID(ctx); err != nil {
					return nil, err
				}
			}
			f, err := m.Client().Form.Get(ctx, formID)
			if gen.IsNotFound(err) {
				return nil, apperr.Invalid("formID", "no Form with that ID")
			}
			if err != nil {
				return nil, err
			}
			if creating {
				if f.Status != form.StatusPublished {
					return nil, apperr.Invalid("formID", "the form is %s; only published forms take answers", f.Status)
				}
				m.SetFormVersion(f.Version)
			}
			if err := schematype.ValidateAnswers(f.Fields, data, status == formsubmission.StatusSubmitted); err != nil {
				return nil, formFieldError(err)
			}
			return next.Mutate(ctx, m)
		})
	}, ent.OpCreate|ent.OpUpdateOne)
}

func formFieldError(err error) error {
	var fe *schematype.FieldError
	if errors.As(err, &fe) {
		return apperr.Invalid(fe.Field, "%s", fe.Message)
	}
	return err
}

// validateCampaignSchedule requires a send time for scheduled campaigns and
// a trigger for triggered ones once they leave draft.
func validateCampaignSchedule() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.CampaignFunc(func(ctx context.Context, m *gen.CampaignMutation) (gen.Value, error) {
			kind, kindSet := m.Kind()
			status, statusSet := m.Status()
			_, hasSchedule := m.ScheduledAt()
			trigger, triggerSet := m.TriggerEvent()
			if m.Op().Is(ent.OpUpdateOne) {
				var err error
				if !kindSet {
					kind, err = m.OldKind(ctx)
				}
				if !statusSet && err == nil {
					status, err = m.OldStatus(ctx)
				}
				if !hasSchedule && !m.ScheduledAtCleared() && err == nil {
					var old *time.Time
					old, err = m.OldScheduledAt(ctx)
					hasSchedule = old != nil
				}
				if !triggerSet && !m.TriggerEventCleared() && err == nil {
					trigger, err = m.OldTriggerEvent(ctx)
				}
				if err != nil {
					return nil, err
				}
			}
			if status != campaign.StatusDraft {
				if kind == campaign.KindScheduled && !hasSchedule {
					return nil, apperr.Invalid("scheduledAt", "a SCHEDULED campaign needs a send time before it leaves DRAFT")
				}
				if kind == campaign.KindTriggered && trigger == "" {
					return nil, apperr.Invalid("triggerEvent", "a TRIGGERED campaign needs a trigger event before it leaves DRAFT")
				}
			}
			return next.Mutate(ctx, m)
		})
	}, ent.OpCreate|ent.OpUpdateOne)
}
