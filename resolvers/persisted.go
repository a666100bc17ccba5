package resolvers

import (
	"context"

	"github.com/scrm-dev/scrm/graph/model"
)

func (r *Resolver) pushTrustedDocuments(ctx context.Context, list, manifest string) (*model.PushTrustedDocumentsPayload, error) {
	return nil, errNotImplemented
}

func (r *Resolver) deleteTrustedDocumentList(ctx context.Context, list string) (int, error) {
	return 0, errNotImplemented
}
