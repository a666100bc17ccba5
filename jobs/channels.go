package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/ent/channel"
	"github.com/scrm-dev/scrm/internal/channels"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// TypeRotateChannels re-pushes the staff on duty of every channel QR code
// whose rotation changed (internal/channels); the scheduler runs it every
// minute.
const TypeRotateChannels = "channels:rotate"

// rotateChannels runs the rotation of every tenant that has channels;
// one tenant's failure does not hold up the others.
func (d Deps) rotateChannels(ctx context.Context, _ *asynq.Task) error {
	tenants, err := d.Client.Channel.Query().Unique(true).Select(channel.FieldTenantID).Ints(viewer.System(ctx))
	if err != nil {
		return err
	}
	svc := &channels.Service{Platform: d.Clients, Now: d.now}
	var errs []error
	for _, id := range tenants {
		res, err := svc.Rotate(viewer.ForTenant(ctx, id), d.Client)
		if res.Pushed+res.Failed > 0 || err != nil {
			d.logger().InfoContext(ctx, "channel rotation", "tenant", id, "channels", res.Channels,
				"pushed", res.Pushed, "refused", res.Failed, "error", err)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}
