package miniback

import "context"

type ctxKey int

const (
	requestIDKey ctxKey = iota
	authKey
)

// Auth is who made a mini-program API request, set by the auth middleware.
type Auth struct {
	AppID     string
	UserID    int64
	SessionID string
	TokenID   string
}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestIDFrom returns the request id in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// WithAuth returns ctx carrying a.
func WithAuth(ctx context.Context, a *Auth) context.Context {
	return context.WithValue(ctx, authKey, a)
}

// AuthFrom returns the Auth in ctx, or nil for an unauthenticated request.
func AuthFrom(ctx context.Context) *Auth {
	a, _ := ctx.Value(authKey).(*Auth)
	return a
}
