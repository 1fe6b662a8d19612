package admin

import "context"

type consoleActorKey struct{}

// OnBehalfOf marks ctx as a request the admin console makes in process for
// the signed-in admin userID, who has already been checked to hold the
// admin role. Such a request needs no bearer token. Only code in this
// binary can set a context value, so no HTTP client can forge it.
func OnBehalfOf(ctx context.Context, userID string) context.Context {
	return context.WithValue(ctx, consoleActorKey{}, userID)
}

// Actor returns the admin on whose behalf the console made the request,
// for logs and audit events.
func Actor(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(consoleActorKey{}).(string)
	return id, ok && id != ""
}
