package tickets

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/formsubmission"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// statsWindow is how far back an agent's CSAT and resolution time look.
const statsWindow = 30 * 24 * time.Hour

// issueSurvey gives a closing ticket a single-use survey link, posted to
// the customer as a public comment (they see it in the mini-program and
// the agent can forward it in WeCom).
func (e *Engine) issueSurvey(ctx context.Context, c *ent.Client, t *ent.Ticket, u *ent.TicketUpdateOne) error {
	tt, err := typeOf(ctx, c, t)
	if err != nil || tt == nil || tt.SurveyFormID == nil || t.Csat != nil {
		return err
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	u.SetSurveyTokenHash(hashToken(token)).SetSurveySentAt(e.Now())
	link := strings.TrimRight(e.publicURL, "/") + "/survey/" + token
	body := fmt.Sprintf("您的工单 %s 已处理完毕。请为本次服务评分：%s", t.Number, link)
	cr := c.TicketComment.Create().SetTicketID(t.ID).SetBody(body)
	if a := actorID(ctx); a != nil {
		cr.SetAuthorID(*a)
	}
	if err := cr.Exec(ctx); err != nil {
		return err
	}
	return e.record(ctx, c, t.ID, "SURVEY_SENT", "", "", "", link)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// SurveyView is what the survey page shows.
type SurveyView struct {
	Ticket *ent.Ticket
	Form   *ent.Form
}

// Survey finds the ticket a survey link rates. An unknown or used link is
// NOT_FOUND.
func (e *Engine) Survey(ctx context.Context, token string) (*SurveyView, error) {
	if len(token) < 16 || len(token) > 64 {
		return nil, apperr.NotFound("no such survey")
	}
	t, err := e.client.Ticket.Query().Where(ticket.SurveyTokenHash(hashToken(token))).Only(viewer.System(ctx))
	if ent.IsNotFound(err) {
		return nil, apperr.NotFound("no such survey, or it was answered already")
	}
	if err != nil {
		return nil, err
	}
	tctx := viewer.ForTenant(ctx, t.TenantID)
	tt, err := typeOf(tctx, e.client, t)
	if err != nil || tt == nil || tt.SurveyFormID == nil {
		return nil, apperr.NotFound("no such survey")
	}
	f, err := e.client.Form.Get(tctx, *tt.SurveyFormID)
	if err != nil {
		return nil, err
	}
	return &SurveyView{Ticket: t, Form: f}, nil
}

// SurveyAnswer is the customer's answer.
type SurveyAnswer struct {
	Rating  int
	Comment string
	// Reopen asks for the ticket to be reopened (within the type's reopen
	// window): the problem is not solved.
	Reopen bool
}

// AnswerSurvey records a rating once: it becomes a submission of the
// survey form attached to the ticket, the ticket's CSAT, and part of the
// agent's CSAT, which routing weighs.
func (e *Engine) AnswerSurvey(ctx context.Context, token string, a SurveyAnswer) (*ent.Ticket, error) {
	if a.Rating < 1 || a.Rating > 5 {
		return nil, apperr.Invalid("rating", "rate from 1 to 5")
	}
	if len([]rune(a.Comment)) > 2000 {
		return nil, apperr.Invalid("comment", "at most 2000 characters")
	}
	view, err := e.Survey(ctx, token)
	if err != nil {
		return nil, err
	}
	t := view.Ticket
	ctx = viewer.ForTenant(ctx, t.TenantID)
	var out *ent.Ticket
	err = e.inTx(ctx, func(ctx context.Context, c *ent.Client) error {
		// claim the token in the update itself: a double submit loses
		n, err := c.Ticket.Update().Where(ticket.ID(t.ID), ticket.SurveyTokenHash(hashToken(token))).
			ClearSurveyTokenHash().SetCsat(a.Rating).SetCsatComment(a.Comment).SetNillableCsatStaffID(t.AssigneeID).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.NotFound("no such survey, or it was answered already")
		}
		sub := c.FormSubmission.Create().SetFormID(view.Form.ID).SetTicketID(t.ID).
			SetData(map[string]any{"rating": strconv.Itoa(a.Rating), "comment": a.Comment}).
			SetSourceChannel(formsubmission.SourceChannelH5)
		if t.CustomerID != nil {
			sub.SetCustomerID(*t.CustomerID)
		}
		if err := sub.Exec(ctx); err != nil {
			return err
		}
		if err := e.record(ctx, c, t.ID, "SURVEY_ANSWERED", "csat", "", strconv.Itoa(a.Rating), a.Comment); err != nil {
			return err
		}
		if t.AssigneeID != nil {
			if err := refreshAgentStats(ctx, c, *t.AssigneeID, e.Now()); err != nil {
				return err
			}
		}
		if out, err = c.Ticket.Get(ctx, t.ID); err != nil {
			return err
		}
		if !a.Reopen {
			return nil
		}
		wf, tt, err := workflowOf(ctx, c, out)
		if err != nil {
			return err
		}
		if _, ok := wf.Find(workflow.Status(out.Status), "REOPENED"); !ok {
			return apperr.Invalid("reopen", "this ticket cannot be reopened")
		}
		if tt != nil && out.ClosedAt != nil {
			if window, _ := time.ParseDuration(tt.ReopenWindow); window > 0 && e.Now().Sub(*out.ClosedAt) > window {
				return apperr.Invalid("reopen", "the ticket was closed more than %s ago; please open a new one", tt.ReopenWindow)
			}
		}
		if out, err = e.applyStatus(ctx, c, out, c.Ticket.UpdateOneID(out.ID), ticket.StatusReopened, "the customer reopened it from the survey"); err != nil {
			return err
		}
		_, err = e.route(ctx, c, out, nil)
		return err
	})
	return out, err
}

// refreshAgentStats recomputes an agent's recent CSAT and resolution time
// (what routing weighs) from their tickets of the last 30 days.
func refreshAgentStats(ctx context.Context, c *ent.Client, staffID int, now time.Time) error {
	since := now.Add(-statsWindow)
	rows, err := c.Ticket.Query().
		Where(ticket.AssigneeID(staffID), ticket.ResolvedAtGTE(since)).
		Select(ticket.FieldCreatedAt, ticket.FieldResolvedAt, ticket.FieldReopenedAt).
		Limit(5000).All(ctx)
	if err != nil {
		return err
	}
	var sumRating, nRating int
	var sumRes time.Duration
	var nRes int
	for _, t := range rows {
		if t.ResolvedAt != nil {
			sumRes += t.ResolvedAt.Sub(slaStart(t))
			nRes++
		}
	}
	// ratings are the rated agent's, whoever has the ticket now
	rated, err := c.Ticket.Query().
		Where(ticket.CsatStaffID(staffID), ticket.UpdatedAtGTE(since)).
		Select(ticket.FieldCsat).Limit(5000).All(ctx)
	if err != nil {
		return err
	}
	for _, t := range rated {
		if t.Csat != nil {
			sumRating += *t.Csat
			nRating++
		}
	}
	u := c.Staff.Update().Where(staff.ID(staffID)).SetCsatCount(nRating).SetAvgResolutionSeconds(0).SetCsatAverage(0)
	if nRating > 0 {
		u.SetCsatAverage(float64(sumRating) / float64(nRating))
	}
	if nRes > 0 {
		u.SetAvgResolutionSeconds(int64(sumRes / time.Duration(nRes) / time.Second))
	}
	return u.Exec(ctx)
}
