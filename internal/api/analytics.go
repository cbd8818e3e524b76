package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/analytics"
)

// Analytics is the analytics flow (internal/analytics): the event ingest,
// its queries and the stored datacube figures. Its errors are SPEC's.
type Analytics interface {
	Ingest(ctx context.Context, in analytics.IngestRequest) ([]byte, error)
	RecordLogin(ctx context.Context, appid string, user int64, sessionID string, at time.Time) error
	Anonymous() bool
	Series(ctx context.Context, appid string, p url.Values) (any, error)
	Funnel(ctx context.Context, appid string, p url.Values) (any, error)
	Retention(ctx context.Context, appid string, p url.Values) (any, error)
	Active(ctx context.Context, appid string, p url.Values) (any, error)
	Report(ctx context.Context, appid, report string, p url.Values) (any, error)
	StartSync(ctx context.Context, appid string, body []byte) (*miniback.DatacubeJob, error)
	SyncJob(ctx context.Context, appid, id string) (*miniback.DatacubeJob, error)
}

func (s *Server) analyticsRoutes() {
	if s.Analytics == nil {
		return
	}
	s.handle("POST /api/v1/{appid}/events", s.handleEvents)
	a := "/admin/v1/{appid}/analytics"
	s.handle("GET "+a+"/events", s.admin(s.analyticsQuery(s.Analytics.Series)))
	s.handle("GET "+a+"/funnel", s.admin(s.analyticsQuery(s.Analytics.Funnel)))
	s.handle("GET "+a+"/retention", s.admin(s.analyticsQuery(s.Analytics.Retention)))
	s.handle("GET "+a+"/active", s.admin(s.analyticsQuery(s.Analytics.Active)))
	s.handle("GET "+a+"/wechat/{report}", s.admin(s.handleDatacubeReport))
	s.handle("POST "+a+"/wechat/sync", s.admin(s.handleStartSync))
	s.handle("GET "+a+"/wechat/sync/{id}", s.admin(s.handleSyncJob))
}

// recordLogin hands a login to analytics as a "login" event. The login
// has succeeded already: a failure here is logged, not returned.
func (s *Server) recordLogin(ctx context.Context, appid string, user int64, sessionID string, at time.Time) {
	if s.Analytics == nil {
		return
	}
	if err := s.Analytics.RecordLogin(ctx, appid, user, sessionID, at); err != nil {
		s.Logger.WarnContext(ctx, "analytics: login event not queued", "appid", appid, "error", err.Error())
	}
}

// handleEvents takes a batch of events: with an access token as that
// user, or without one when analytics.anonymous is on.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) error {
	if _, ok := bearer(r); !ok && s.Analytics.Anonymous() {
		return s.ingest(w, r, 0)
	}
	return s.authed(func(w http.ResponseWriter, r *http.Request) error {
		return s.ingest(w, r, miniback.AuthFrom(r.Context()).UserID)
	})(w, r)
}

func (s *Server) ingest(w http.ResponseWriter, r *http.Request, user int64) error {
	body, err := readJSONBody(w, r)
	if err != nil {
		return err
	}
	answer, err := s.Analytics.Ingest(r.Context(), analytics.IngestRequest{
		AppID: r.PathValue("appid"), User: user, Key: r.Header.Get("Idempotency-Key"), Body: body})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(append(answer, '\n'))
	return nil
}

// readJSONBody reads an application/json body of at most maxJSONBody bytes.
func readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := requireJSON(r); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, miniback.Errorf(miniback.ECodeTooLarge, "the body is larger than %d bytes", tooBig.Limit)
	}
	if err != nil {
		return nil, miniback.WrapError(miniback.ECodeInvalidRequest, "the body could not be read", err)
	}
	return body, nil
}

func (s *Server) analyticsQuery(q func(context.Context, string, url.Values) (any, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		out, err := q(r.Context(), r.PathValue("appid"), r.URL.Query())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

func (s *Server) handleDatacubeReport(w http.ResponseWriter, r *http.Request) error {
	out, err := s.Analytics.Report(r.Context(), r.PathValue("appid"), r.PathValue("report"), r.URL.Query())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleStartSync(w http.ResponseWriter, r *http.Request) error {
	body, err := readJSONBody(w, r)
	if err != nil {
		return err
	}
	job, err := s.Analytics.StartSync(r.Context(), r.PathValue("appid"), body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, job)
	return nil
}

func (s *Server) handleSyncJob(w http.ResponseWriter, r *http.Request) error {
	job, err := s.Analytics.SyncJob(r.Context(), r.PathValue("appid"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, job)
	return nil
}
