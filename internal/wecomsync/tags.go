package wecomsync

import (
	"context"
	"fmt"

	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/tag"
	"github.com/scrm-dev/scrm/ent/taggroup"
)

// pushLocalTags creates in WeCom the tags admins added here to WeCom tag
// groups (source WECOM) — whole groups when the group is new too — and
// records WeCom's ids, so tags flow both ways. Tags of other sources stay
// local.
func pushLocalTags(ctx context.Context, client *ent.Client, api API) (int, error) {
	groups, err := client.TagGroup.Query().Where(taggroup.SourceEQ(taggroup.SourceWecom)).
		WithTags(func(q *ent.TagQuery) { q.Where(tag.WecomTagIDIsNil()) }).All(ctx)
	if err != nil {
		return 0, err
	}
	pushed := 0
	for _, g := range groups {
		if len(g.Edges.Tags) == 0 {
			continue
		}
		names := make([]string, len(g.Edges.Tags))
		for i, t := range g.Edges.Tags {
			names[i] = t.Name
		}
		groupID := ""
		if g.WecomGroupID != nil {
			groupID = *g.WecomGroupID
		}
		created, err := api.AddCorpTags(ctx, groupID, g.Name, names)
		if groupID != "" && transport.IsKind(err, transport.KindNotFound) {
			// The group is gone from WeCom: make it again by name.
			groupID = ""
			created, err = api.AddCorpTags(ctx, "", g.Name, names)
		}
		if err != nil {
			return pushed, fmt.Errorf("create tags of group %q in WeCom: %w", g.Name, err)
		}
		if groupID == "" {
			if err := client.TagGroup.UpdateOne(g).SetWecomGroupID(created.ID).Exec(ctx); err != nil {
				return pushed, err
			}
		}
		byName := map[string]string{}
		for _, t := range created.Tags {
			byName[t.Name] = t.ID
		}
		for _, t := range g.Edges.Tags {
			if id, ok := byName[t.Name]; ok {
				if err := client.Tag.UpdateOne(t).SetWecomTagID(id).Exec(ctx); err != nil {
					return pushed, err
				}
				pushed++
			}
		}
	}
	return pushed, nil
}
