package analytics

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/miniback/miniback"
)

// IngestRequest is one POST /api/v1/{appid}/events.
type IngestRequest struct {
	AppID string
	// User is the signed-in user's id, or 0 for an anonymous request
	// (accepted only with Config.Anonymous; events then need device_id).
	User int64
	// Key is the Idempotency-Key header, "" for none.
	Key  string
	Body []byte
}

// Rejected is one refused event of a batch.
type Rejected struct {
	Index   int    `json:"index"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// IngestAnswer is the 202 answer of an ingest.
type IngestAnswer struct {
	Accepted int        `json:"accepted"`
	Rejected []Rejected `json:"rejected"`
}

// idempotencyTTL is how long a key's answer is replayed.
const idempotencyTTL = 24 * time.Hour

var (
	devicePattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	keyPattern    = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)
)

// Ingest validates the batch event by event, counts the accepted events
// against the daily cap, publishes them to the queue and returns the
// answer JSON once the queue holds them. A repeat of a request with the
// same Idempotency-Key is answered the same without publishing again; the
// same key with another body is a conflict. Errors: invalid_request for a
// malformed body, a bad key or 0 or over 100 events; rate_limited when the
// cap refuses every event; unavailable when the queue does not take them.
func (s *Service) Ingest(ctx context.Context, in IngestRequest) ([]byte, error) {
	if s.queue == nil {
		return nil, miniback.Errorf(miniback.ECodeUnavailable, "event ingest is not available")
	}
	if in.Key == "" {
		return s.ingest(ctx, in, randomID())
	}
	if !keyPattern.MatchString(in.Key) {
		return nil, miniback.Errorf(miniback.ECodeInvalidRequest, "Idempotency-Key must be 1-255 printable ASCII characters")
	}
	scope := sha256.Sum256([]byte(in.AppID + "\x00" + strconv.FormatInt(in.User, 10) + "\x00" + in.Key))
	id := hex.EncodeToString(scope[:16])
	stateKey := "analytics:idem:" + id
	sum := sha256.Sum256(in.Body)
	hash := hex.EncodeToString(sum[:])
	if answer, err := s.claimKey(ctx, stateKey, hash); answer != nil || err != nil {
		return answer, err
	}
	answer, err := s.ingest(ctx, in, id)
	if err != nil {
		// Nothing was queued: the key is free for a corrected request.
		_ = s.state.Delete(context.WithoutCancel(ctx), stateKey)
		return nil, err
	}
	if err := s.state.Set(context.WithoutCancel(ctx), stateKey, hash+"\n"+string(answer), idempotencyTTL); err != nil {
		s.log.Warn("analytics: remember idempotency key", "err", err)
	}
	return answer, nil
}

// claimKey takes the key for this request, or returns the answer of the
// earlier request with the same key and body, or a conflict.
func (s *Service) claimKey(ctx context.Context, stateKey, hash string) ([]byte, error) {
	for range 2 {
		ok, err := s.state.SetNX(ctx, stateKey, hash+"\n", 5*time.Minute)
		if err != nil {
			return nil, miniback.WrapError(miniback.ECodeUnavailable, "the state store is not reachable", err)
		}
		if ok {
			return nil, nil
		}
		v, found, err := s.state.Get(ctx, stateKey)
		if err != nil {
			return nil, miniback.WrapError(miniback.ECodeUnavailable, "the state store is not reachable", err)
		}
		if !found {
			continue // expired between the two calls
		}
		got, answer, _ := strings.Cut(v, "\n")
		if got != hash {
			return nil, miniback.Errorf(miniback.ECodeConflict, "this Idempotency-Key was used with another body")
		}
		if answer == "" {
			return nil, miniback.Errorf(miniback.ECodeConflict, "a request with this Idempotency-Key is in progress")
		}
		return []byte(answer), nil
	}
	return nil, miniback.Errorf(miniback.ECodeConflict, "a request with this Idempotency-Key is in progress")
}

// ingest validates, caps, publishes as batch id and returns the answer.
func (s *Service) ingest(ctx context.Context, in IngestRequest, id string) ([]byte, error) {
	wires, raws, err := decodeBatch(in.Body)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	ans := IngestAnswer{Rejected: []Rejected{}}
	batch := miniback.EventBatch{AppID: in.AppID, ID: id, Events: make([]miniback.Event, 0, max(len(wires), len(raws)))}
	n := max(len(wires), len(raws))
	events := make([]*miniback.Event, n)
	errs := make([]error, n)
	for i := range n {
		if wires != nil {
			events[i], errs[i] = s.checkEvent(&wires[i], in.User, now)
		} else {
			events[i], errs[i] = s.parseEvent(raws[i], in.User, now)
		}
	}
	allowed, err := s.countEvents(ctx, in.AppID, events, errs, now)
	if err != nil {
		return nil, err
	}
	capped := 0
	for i, e := range events {
		err := errs[i]
		if err == nil {
			if allowed[e.User] == 0 {
				err = miniback.Errorf(miniback.ECodeRateLimited, "over %d events today", s.cfg.MaxPerUserPerDay)
				capped++
			} else {
				allowed[e.User]--
			}
		}
		var me *miniback.Error
		switch {
		case err == nil:
			batch.Events = append(batch.Events, *e)
		case errors.As(err, &me) && me.Code != miniback.ECodeUnavailable:
			ans.Rejected = append(ans.Rejected, Rejected{Index: i, Code: me.Code, Message: me.Message})
		default:
			return nil, err
		}
	}
	if capped > 0 && len(batch.Events) == 0 {
		return nil, miniback.Errorf(miniback.ECodeRateLimited, "over %d events today: analytics.max_events_per_user_per_day", s.cfg.MaxPerUserPerDay)
	}
	if len(batch.Events) > 0 {
		if err := s.publish(ctx, &batch); err != nil {
			return nil, err
		}
	}
	ans.Accepted = len(batch.Events)
	return json.Marshal(ans)
}

func (s *Service) publish(ctx context.Context, b *miniback.EventBatch) error {
	data, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("analytics: encode batch: %w", err)
	}
	if err := s.queue.Publish(ctx, s.queue.Subject("events", b.AppID), data, "events-"+b.AppID+"-"+b.ID); err != nil {
		return miniback.WrapError(miniback.ECodeUnavailable, "the event queue is not reachable", err)
	}
	return nil
}

// countEvents counts the valid events of a batch (those whose errs entry is
// nil) against their actors' caps for today, with one state-store call (one
// round trip) for the batch, and returns how many of each actor's events fit under the cap:
// the first ones in the batch, as if counted one by one.
func (s *Service) countEvents(ctx context.Context, appid string, events []*miniback.Event, errs []error, now time.Time) (map[string]int64, error) {
	count := map[string]int64{}
	var actors []string // in order of first appearance
	for i, e := range events {
		if errs[i] != nil {
			continue
		}
		if count[e.User] == 0 {
			actors = append(actors, e.User)
		}
		count[e.User]++
	}
	if len(actors) == 0 {
		return count, nil
	}
	day := miniback.DayOf(now, s.cfg.Loc).String()
	keys := make([]string, len(actors))
	ns := make([]int64, len(actors))
	for i, actor := range actors {
		keys[i], ns[i] = "analytics:cap:"+appid+":"+day+":"+actor, count[actor]
	}
	totals, err := s.state.IncrMany(ctx, keys, ns, 48*time.Hour)
	if err != nil {
		return nil, miniback.WrapError(miniback.ECodeUnavailable, "the state store is not reachable", err)
	}
	limit := int64(s.cfg.MaxPerUserPerDay)
	for i, actor := range actors {
		c := ns[i]
		count[actor] = min(max(limit-(totals[i]-c), 0), c)
	}
	return count, nil
}

// decodeBatch reads {"events":[…]} and checks the count. Most batches
// decode in one pass into their wire events; a batch with an event that is
// not a well-formed event object is returned as raw events instead, for
// parseEvent to say which and why one by one.
func decodeBatch(body []byte) ([]wireEvent, []json.RawMessage, error) {
	var fast struct {
		Events []wireEvent `json:"events"`
	}
	if strictDecode(body, &fast) == nil {
		if len(fast.Events) == 0 || len(fast.Events) > miniback.MaxEventsPerBatch {
			return nil, nil, miniback.Errorf(miniback.ECodeInvalidRequest, "events must hold 1 to %d events, not %d", miniback.MaxEventsPerBatch, len(fast.Events))
		}
		return fast.Events, nil, nil
	}
	var b struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := strictDecode(body, &b); err != nil {
		return nil, nil, err
	}
	if len(b.Events) == 0 || len(b.Events) > miniback.MaxEventsPerBatch {
		return nil, nil, miniback.Errorf(miniback.ECodeInvalidRequest, "events must hold 1 to %d events, not %d", miniback.MaxEventsPerBatch, len(b.Events))
	}
	return nil, b.Events, nil
}

func strictDecode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return miniback.WrapError(miniback.ECodeInvalidRequest, "the body must be {\"events\":[…]}: "+jsonProblem(err), err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return miniback.Errorf(miniback.ECodeInvalidRequest, "the body must hold exactly one JSON object")
	}
	return nil
}

func jsonProblem(err error) string {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("field %q must be %s", typ.Field, typ.Type.String())
	}
	if strings.HasPrefix(err.Error(), "json: unknown field ") {
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "not valid JSON"
}

// wireEvent is one event as the client sends it.
type wireEvent struct {
	Name     *string                    `json:"name"`
	TS       *json.Number               `json:"ts"`
	Props    map[string]json.RawMessage `json:"props"`
	Page     string                     `json:"page"`
	DeviceID string                     `json:"device_id"`
}

// validName reports whether s is 1-64 of [a-z0-9_.]: event names and
// prop keys (a loop: this runs for every event and prop).
func validName(s string) bool {
	if len(s) == 0 || len(s) > miniback.MaxEventNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// parseEvent checks one event; its error is an invalid_request Error that
// says what is wrong.
func (s *Service) parseEvent(raw json.RawMessage, user int64, now time.Time) (*miniback.Event, error) {
	bad := func(format string, args ...any) error {
		return miniback.Errorf(miniback.ECodeInvalidRequest, format, args...)
	}
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return nil, bad("the event is not a valid event object: %s", jsonProblem(err))
	}
	return s.checkEvent(&w, user, now)
}

// checkEvent checks one decoded event, as parseEvent.
func (s *Service) checkEvent(w *wireEvent, user int64, now time.Time) (*miniback.Event, error) {
	bad := func(format string, args ...any) error {
		return miniback.Errorf(miniback.ECodeInvalidRequest, format, args...)
	}
	if w.Name == nil || !validName(*w.Name) {
		return nil, bad("name must be 1-64 of a-z, 0-9, '_' and '.'")
	}
	if w.TS == nil {
		return nil, bad("ts is required (milliseconds since the epoch)")
	}
	ts, err := w.TS.Int64()
	if err != nil {
		return nil, bad("ts must be whole milliseconds since the epoch")
	}
	if t := time.UnixMilli(ts); t.Before(now.Add(-miniback.EventMaxPast)) || t.After(now.Add(miniback.EventMaxFuture)) {
		return nil, bad("ts must be within the last 7 days and at most 1 minute ahead")
	}
	if len(w.Page) > 512 {
		return nil, bad("page must be at most 512 bytes")
	}
	props, err := checkProps(w.Props)
	if err != nil {
		return nil, err
	}
	e := &miniback.Event{Name: *w.Name, TS: ts, Page: w.Page, Props: props}
	switch {
	case user != 0:
		e.User = "u:" + strconv.FormatInt(user, 10)
	case s.cfg.Anonymous && devicePattern.MatchString(w.DeviceID):
		e.User = "d:" + w.DeviceID
	default:
		return nil, bad("device_id (1-128 of letters, digits and ._:-) is required without an access token")
	}
	return e, nil
}

// checkProps accepts a flat object of at most 32 strings (≤ 256 bytes),
// numbers and booleans under keys shaped like event names, and returns it
// as compact JSON with sorted keys (what json.Marshal makes of it), built
// by hand: this runs for every event.
func checkProps(props map[string]json.RawMessage) (json.RawMessage, error) {
	if len(props) > miniback.MaxEventProps {
		return nil, miniback.Errorf(miniback.ECodeInvalidRequest, "props may hold at most %d values", miniback.MaxEventProps)
	}
	if len(props) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(props))
	size := 2
	for k, raw := range props {
		if !validName(k) {
			return nil, miniback.Errorf(miniback.ECodeInvalidRequest, "prop keys must be 1-64 of a-z, 0-9, '_' and '.'")
		}
		keys = append(keys, k)
		size += len(k) + len(raw) + 4
	}
	slices.Sort(keys)
	out := make([]byte, 0, size)
	out = append(out, '{')
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, k...) // a valid name needs no escaping
		out = append(out, '"', ':')
		var err error
		if out, err = appendPropValue(out, props[k]); err != nil {
			return nil, miniback.Errorf(miniback.ECodeInvalidRequest, "prop %q: %s", k, err.Error())
		}
	}
	return append(out, '}'), nil
}

// appendPropValue checks one prop value by its first byte and appends it
// as compact JSON: numbers and booleans as sent (the decoder has checked
// them), plain strings as sent, strings with escapes or other than UTF-8
// decoded (to measure them) and encoded again.
func appendPropValue(out []byte, raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("not a JSON value")
	}
	switch c := raw[0]; {
	case c == '"':
		if bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 && utf8.Valid(raw) {
			if len(raw)-2 > miniback.MaxPropString {
				return nil, fmt.Errorf("strings may be at most %d bytes", miniback.MaxPropString)
			}
			return append(out, raw...), nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, errors.New("not a JSON value")
		}
		if len(s) > miniback.MaxPropString {
			return nil, fmt.Errorf("strings may be at most %d bytes", miniback.MaxPropString)
		}
		b, err := json.Marshal(s)
		if err != nil {
			return nil, errors.New("not a JSON value")
		}
		return append(out, b...), nil
	case c == 't':
		return append(out, "true"...), nil
	case c == 'f':
		return append(out, "false"...), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return append(out, raw...), nil // the decoder has checked it is a number
	}
	return nil, errors.New("must be a string, a number or a boolean (props are flat)")
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b)
}
