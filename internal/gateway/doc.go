// Package gateway is miniback's edge (SPEC §14): routes to the team's own
// services on net/http/httputil.ReverseProxy, circuit breakers in front of
// upstreams and WeChat, rate limits kept in process or in Redis, the
// client's address behind trusted proxies, and TLS certificates reloaded
// when their files change.
//
// The package knows nothing of tokens or error JSON: the API layer
// (internal/api) authenticates a request, puts its [Identity] in the
// context, and gives the gateway a function that writes errors.
package gateway
