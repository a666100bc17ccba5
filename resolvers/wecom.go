package resolvers

import (
	"context"
	"errors"
	"time"

	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/internal/channels"
)

// channels is the channel service over the server's platform clients
// and clock.
func (r *Resolver) channels() *channels.Service {
	return &channels.Service{Platform: r.platform(), Now: r.now}
}

// wecomClients builds WeCom accounts' clients.
type wecomClients interface {
	Wecom(a *ent.ConnectorAccount) (*wecom.Client, error)
}

// platform is the server's platform clients; a server built without
// them answers an error where a platform would be called.
func (r *Resolver) platform() wecomClients {
	if r.platforms == nil {
		return noPlatforms{}
	}
	return r.platforms
}

type noPlatforms struct{}

func (noPlatforms) Wecom(*ent.ConnectorAccount) (*wecom.Client, error) {
	return nil, errors.New("this server has no platform clients configured")
}

// now is the resolvers' clock (Options.Now, else time.Now).
func (r *Resolver) now() time.Time {
	if r.clock != nil {
		return r.clock()
	}
	return time.Now()
}

// staffInOrder loads staff members by id, in the order given (missing
// ones left out).
func staffInOrder(ctx context.Context, client *ent.Client, ids []int) ([]*ent.Staff, error) {
	if len(ids) == 0 {
		return []*ent.Staff{}, nil
	}
	found, err := client.Staff.Query().Where(staff.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[int]*ent.Staff, len(found))
	for _, s := range found {
		byID[s.ID] = s
	}
	out := make([]*ent.Staff, 0, len(ids))
	for _, id := range ids {
		if s := byID[id]; s != nil {
			out = append(out, s)
		}
	}
	return out, nil
}
