package channels

import (
	"context"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/channel"
	"github.com/scrm-dev/scrm/internal/wecomsync"
)

// Finder names the channels of one WeCom account by their state, for
// wecomsync.Corp.Channels.
func Finder(client *ent.Client, accountID int) wecomsync.Channels {
	return finder{client: client, account: accountID}
}

type finder struct {
	client  *ent.Client
	account int
}

// ByState returns the account's channel with state, or nil.
func (f finder) ByState(ctx context.Context, state string) (*wecomsync.Channel, error) {
	ch, err := f.client.Channel.Query().Where(channel.AccountID(f.account), channel.State(state)).WithTags().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := &wecomsync.Channel{ID: ch.ID, WelcomeMessage: ch.WelcomeMessage}
	for _, t := range ch.Edges.Tags {
		out.TagIDs = append(out.TagIDs, t.ID)
		if t.WecomTagID != nil && *t.WecomTagID != "" {
			out.WecomTagIDs = append(out.WecomTagIDs, *t.WecomTagID)
		}
	}
	return out, nil
}
