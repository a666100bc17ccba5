package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/scrm-dev/scrm/ent/schema/schematype"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/requestid"
	"github.com/scrm-dev/scrm/internal/tickets"
)

// Surveys serves the satisfaction survey a closed ticket sends its
// customer: GET /survey/{token} shows it, POST answers it once. The link's
// token is the only credential (it names one ticket and is single use).
type Surveys struct {
	Engine *tickets.Engine
	Logger *slog.Logger
}

func (s *Surveys) mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /survey/{token}", s.show)
	mux.HandleFunc("POST /survey/{token}", s.answer)
}

type surveyPage struct {
	Ticket string                 `json:"ticket"`
	Title  string                 `json:"title"`
	Form   string                 `json:"form"`
	Fields []schematype.FormField `json:"fields"`
}

func (s *Surveys) show(w http.ResponseWriter, r *http.Request) {
	v, err := s.Engine.Survey(r.Context(), r.PathValue("token"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeBody(w, http.StatusOK, surveyPage{Ticket: v.Ticket.Number, Title: v.Ticket.Title, Form: v.Form.Name, Fields: v.Form.Fields})
}

type surveyAnswer struct {
	Rating  int    `json:"rating"`
	Comment string `json:"comment"`
	Reopen  bool   `json:"reopen"`
}

func (s *Surveys) answer(w http.ResponseWriter, r *http.Request) {
	var in surveyAnswer
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, string(apperr.CodeBadRequest), "send JSON: {\"rating\": 1-5, \"comment\": \"...\", \"reopen\": false}")
		return
	}
	t, err := s.Engine.AnswerSurvey(r.Context(), r.PathValue("token"), tickets.SurveyAnswer{Rating: in.Rating, Comment: in.Comment, Reopen: in.Reopen})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeBody(w, http.StatusOK, map[string]any{"ticket": t.Number, "status": t.Status, "thanks": true})
}

func (s *Surveys) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		status := http.StatusBadRequest
		if ae.Code == apperr.CodeNotFound {
			status = http.StatusNotFound
		}
		writeErrorField(w, status, string(ae.Code), ae.Message, ae.Field)
		return
	}
	s.Logger.ErrorContext(r.Context(), "survey", "request_id", requestid.FromContext(r.Context()), "err", err)
	writeError(w, http.StatusInternalServerError, string(apperr.CodeInternal), "internal error; request id "+requestid.FromContext(r.Context()))
}

func writeBody(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// writeErrorField is writeError naming the input field at fault.
func writeErrorField(w http.ResponseWriter, status int, code, message, field string) {
	ext := map[string]any{"code": code}
	if field != "" {
		ext["field"] = field
	}
	writeBody(w, status, map[string]any{"errors": []map[string]any{{"message": message, "extensions": ext}}})
}

func surveyMux(s *Surveys) http.Handler {
	mux := http.NewServeMux()
	s.mount(mux)
	return mux
}
