package resolvers

import (
	"context"
	"errors"

	"github.com/scrm-dev/scrm/graph/model"
)

var errNoDocuments = errors.New("trusted documents are not configured on this server")

func (r *Resolver) pushTrustedDocuments(ctx context.Context, list, manifest string) (*model.PushTrustedDocumentsPayload, error) {
	if r.documents == nil {
		return nil, errNoDocuments
	}
	res, err := r.documents.Push(ctx, viewerFrom(ctx).TenantID, list, []byte(manifest))
	if err != nil {
		return nil, err
	}
	return &model.PushTrustedDocumentsPayload{List: res.List, Added: res.Added, Unchanged: res.Unchanged}, nil
}

func (r *Resolver) deleteTrustedDocumentList(ctx context.Context, list string) (int, error) {
	if r.documents == nil {
		return 0, errNoDocuments
	}
	return r.documents.DeleteList(ctx, viewerFrom(ctx).TenantID, list)
}
