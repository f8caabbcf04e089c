package httpapi

import (
	"context"

	"github.com/peer-node/peer/internal/apiv1"
)

// ShareBackend is the sharing side of the node, served under
// /api/v1/mimei/{mid}/shares, /fetch, /access and /branches,
// /api/v1/shared, /api/v1/subscriptions and /api/v1/cache. ref names a
// contact by did:key or pet name. Errors map to statuses as for Backend.
type ShareBackend interface {
	Share(ctx context.Context, mid string, req apiv1.ShareRequest) (apiv1.Sharing, error)
	Unshare(ctx context.Context, mid, ref string) (apiv1.Sharing, error)
	Sharing(ctx context.Context, mid string) (apiv1.Sharing, error)
	SharedWithMe(ctx context.Context) ([]apiv1.Incoming, error)
	Subscribe(ctx context.Context, req apiv1.Subscribe) (apiv1.FetchResult, error)
	Unsubscribe(ctx context.Context, mid string) error
	Subscriptions(ctx context.Context) ([]apiv1.Subscription, error)
	Fetch(ctx context.Context, mid string, req apiv1.FetchRequest) (apiv1.FetchResult, error)
	AccessLog(ctx context.Context, mid string, limit int) ([]apiv1.Access, error)
	Cache(ctx context.Context) ([]apiv1.CacheEntry, error)
	Branches(ctx context.Context, mid string) ([]apiv1.Branch, error)
}
