package main

import (
	"log/slog"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/internal/config"
	"github.com/scrm-dev/scrm/internal/store"
	"github.com/scrm-dev/scrm/internal/webhooks"
	"github.com/scrm-dev/scrm/jobs"
)

// newWebhooks builds the webhook service over enq: the API's (endpoints,
// redeliveries) and the worker's (fan-out, deliveries) are the same.
func newWebhooks(cfg *config.Config, st *store.Store, enq *asynq.Client, logger *slog.Logger) *webhooks.Service {
	q := jobs.WebhookQueue{Enqueuer: enq}
	return webhooks.New(webhooks.Options{Client: st.Client, Logger: logger, Queue: q, Notifier: q,
		PauseAfter: cfg.WebhookPauseAfter, AllowInsecure: cfg.WebhookAllowInsecure})
}
