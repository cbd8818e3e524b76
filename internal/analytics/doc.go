// Package analytics owns the analytics flow (SPEC §12): the mini program's
// own events are validated, published to the durable queue before the
// client is answered, and written to the database in batches off the
// request path, each batch exactly once; the admin queries read the
// rollups; and WeChat's datacube figures are pulled once a day per
// deployment (a lock in the state store), retried while WeChat has not
// got them ready, stored as received, and backfilled on request.
//
// cmd/miniback wires a Service and calls Run; internal/api calls its
// Ingest, query and datacube methods. A Service is safe for concurrent use.
package analytics
