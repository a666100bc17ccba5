package webhooks

import (
	"slices"
	"strings"

	"github.com/scrm-dev/scrm/ent/event"
)

// catalogue maps outbox events (topic and kind, ent/schema/events.go) to
// the kinds partners subscribe to. It is written out rather than derived
// so that renaming an internal kind cannot silently rename a partner's
// subscription. An event kind missing here is not sent to anyone.
var catalogue = map[event.Topic]map[string]string{
	event.TopicTicket: {
		"CREATED":        "ticket.created",
		"UPDATED":        "ticket.updated",
		"ASSIGNED":       "ticket.assigned",
		"STATUS_CHANGED": "ticket.status_changed",
		"ESCALATED":      "ticket.escalated",
		"COMMENTED":      "ticket.commented",
		// A move to CLOSED is ticket.closed, not ticket.status_changed:
		// one event, one kind.
		"CLOSED": "ticket.closed",
	},
	event.TopicOrder: {
		"CREATED":          "order.created",
		"UPDATED":          "order.updated",
		"PAID":             "order.paid",
		"SHIPPED":          "order.shipped",
		"COMPLETED":        "order.completed",
		"REFUND_REQUESTED": "order.refund_requested",
		"REFUNDED":         "order.refunded",
		"CANCELLED":        "order.cancelled",
	},
	event.TopicFormSubmission: {
		"SUBMITTED": "form_submission.submitted",
	},
	event.TopicCustomer: {
		"CREATED":      "customer.created",
		"MERGED":       "customer.merged",
		"TAGS_CHANGED": "customer.tags_changed",
	},
}

// KindOf returns the webhook kind of an outbox event, or "" when events
// of that kind are not offered to partners.
func KindOf(topic event.Topic, kind string) string { return catalogue[topic][kind] }

// Kinds lists every kind an endpoint may subscribe to, sorted, followed by
// the topic wildcards (ticket.*, …).
func Kinds() []string {
	var kinds, topics []string
	for _, byKind := range catalogue {
		for _, k := range byKind {
			kinds = append(kinds, k)
			if t := topicOf(k) + ".*"; !slices.Contains(topics, t) {
				topics = append(topics, t)
			}
		}
	}
	slices.Sort(kinds)
	slices.Sort(topics)
	return append(kinds, topics...)
}

func topicOf(kind string) string {
	t, _, _ := strings.Cut(kind, ".")
	return t
}

// Matches reports whether an endpoint subscribed to subscribed takes
// events of kind.
func Matches(subscribed []string, kind string) bool {
	if kind == "" {
		return false
	}
	for _, s := range subscribed {
		if s == kind || s == topicOf(kind)+".*" {
			return true
		}
	}
	return false
}

// known reports whether s is a kind or a topic wildcard of the catalogue.
func known(s string) bool { return slices.Contains(Kinds(), s) }
