package inbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/push"
	"github.com/miniback/miniback/wxcrypto"
)

// Defaults of Portal's zero fields.
const (
	DefaultMaxAge  = 5 * time.Minute
	DefaultMaxBody = 1 << 20
)

// Publisher is the part of *queue.Queue the Portal hands inbox ids to.
// Publish must be durable when it returns nil and must dedupe on msgID;
// Subject names the subject of a kind of message and an app. It is safe
// for concurrent use.
type Publisher interface {
	Subject(kind, appid string) string
	Publish(ctx context.Context, subject string, data []byte, msgID string) error
}

// subjectKind is the kind of the inbox's queue subjects: a push of app wx…
// is published on Queue.Subject(subjectKind, "wx…") with its inbox id as
// decimal text (see ParseInboxID).
const subjectKind = "inbox"

// Portal is the message-push endpoint /wx/portal/{appid} (SPEC §3.3). Set
// its fields before serving; it is then safe for concurrent use. It never
// runs handlers: it stores the push, publishes its inbox id and answers.
//
// Its methods return *miniback.Error values with these codes: app_not_found
// (unknown appid), forbidden (bad signature or msg_signature, timestamp
// outside MaxAge, app without a token), payload_too_large (body over
// MaxBody), invalid_request (malformed, undecryptable or wrong-format body,
// appid mismatch inside the ciphertext, encrypted body for an app without
// an AESKey, plaintext body for an app with one) and unavailable (the
// inbox or the queue failed: WeChat will retry).
type Portal struct {
	Apps   miniback.Apps
	Inbox  miniback.InboxStore
	Queue  Publisher
	MaxAge time.Duration // accepted clock skew of the timestamp, both ways; 0 means DefaultMaxAge
	Now    func() time.Time
	Logger *slog.Logger // optional: debug lines for WeChat's repeats
	// MaxBody is the largest accepted body in bytes; 0 means DefaultMaxBody.
	MaxBody int64
	// Observer counts pushes by result; nil counts nothing.
	Observer Observer

	crypts sync.Map // *miniback.App → *wxcrypto.MsgCrypt
}

// ServeVerify answers WeChat's URL verification (protocol §d.1): when the
// signature over (token, timestamp, nonce) matches and the timestamp is
// within MaxAge, it writes echostr verbatim as text/plain; otherwise it
// returns forbidden.
func (p *Portal) ServeVerify(w http.ResponseWriter, r *http.Request) error {
	app, err := p.Apps.Get(r.PathValue("appid"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	// The same window as for messages: a recorded verification URL must
	// not verify forever.
	if _, err := p.authenticate(app, q.Get("timestamp"), q.Get("nonce"), q.Get("signature")); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff") // echostr is attacker-chosen
	_, _ = io.WriteString(w, q.Get("echostr"))          // a write error means the peer left
	return nil
}

// ServeMessage receives one push (protocol §d.2–d.5): it checks the
// timestamp and signatures, decrypts, parses with the app's format, stores
// the message in the inbox and publishes its id, then answers "success".
// A repeat of a stored push is answered "success" and published again only
// while its row is still received (the first publish may have been lost).
func (p *Portal) ServeMessage(w http.ResponseWriter, r *http.Request) error {
	app, err := p.Apps.Get(r.PathValue("appid"))
	if err != nil {
		return err
	}
	result, err := p.receive(r, app)
	observerOr(p.Observer).PushReceived(app.AppID, result)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "success")
	return nil
}

// receive does the work of ServeMessage and names its result (Received…).
func (p *Portal) receive(r *http.Request, app *miniback.App) (string, error) {
	q := r.URL.Query()
	if result, err := p.authenticate(app, q.Get("timestamp"), q.Get("nonce"), q.Get("signature")); err != nil {
		return result, err
	}
	body, err := p.readBody(r)
	if err != nil {
		return ReceivedRefusedBody, err
	}
	m, err := p.open(app, body, q.Get("encrypt_type"), q.Get("timestamp"), q.Get("nonce"), q.Get("msg_signature"))
	if miniback.ErrorCode(err) == miniback.ECodeForbidden {
		return ReceivedRefusedSignature, err
	}
	if err != nil {
		return ReceivedRefusedBody, err
	}
	created, err := p.take(r.Context(), app.AppID, m)
	switch {
	case err != nil:
		return ReceivedUnavailable, err
	case !created:
		return ReceivedDuplicate, nil
	}
	return ReceivedStored, nil
}

// authenticate checks the timestamp window and the plain signature, which
// WeChat sends in every mode. On failure it also names the refusal
// (ReceivedRefusedStale or ReceivedRefusedSignature).
func (p *Portal) authenticate(app *miniback.App, timestamp, nonce, signature string) (string, error) {
	if app.Token == "" {
		return ReceivedRefusedSignature, miniback.Errorf(miniback.ECodeForbidden, "message push is not configured for this app")
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ReceivedRefusedStale, miniback.Errorf(miniback.ECodeForbidden, "the timestamp is missing or not a number")
	}
	maxAge := p.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	// Compare in seconds so that huge timestamps cannot overflow a Duration.
	if skew := p.now().Unix() - ts; skew > int64(maxAge/time.Second) || -skew > int64(maxAge/time.Second) {
		return ReceivedRefusedStale, miniback.Errorf(miniback.ECodeForbidden, "the timestamp is outside the accepted window")
	}
	if !wxcrypto.VerifySignature(app.Token, timestamp, nonce, signature) {
		return ReceivedRefusedSignature, miniback.Errorf(miniback.ECodeForbidden, "the signature does not match")
	}
	return "", nil
}

func (p *Portal) readBody(r *http.Request) ([]byte, error) {
	limit := p.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	if r.ContentLength > limit {
		return nil, miniback.Errorf(miniback.ECodeTooLarge, "the body is larger than %d bytes", limit)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, miniback.WrapError(miniback.ECodeInvalidRequest, "the body could not be read", err)
	}
	if int64(len(body)) > limit {
		return nil, miniback.Errorf(miniback.ECodeTooLarge, "the body is larger than %d bytes", limit)
	}
	return body, nil
}

// open parses the body and, for compatible and safe modes, verifies
// msg_signature, decrypts and parses the inner message. The plaintext
// copy of compatible mode is ignored: only the ciphertext is
// authenticated.
func (p *Portal) open(app *miniback.App, body []byte, encryptType, timestamp, nonce, msgSignature string) (*push.Message, error) {
	outer, err := push.Parse(app.MsgFormat, body)
	if err != nil {
		return nil, miniback.WrapError(miniback.ECodeInvalidRequest, "the body is not a valid "+app.MsgFormat+" push", err)
	}
	if outer.Encrypt == "" && encryptType == "" {
		// Plaintext mode. Nothing but the query's signature (token,
		// timestamp, nonce) authenticates the body, so anyone who saw one
		// push URL could post any message for MaxAge: taken only from apps
		// configured in plain mode.
		if err := allowMode(app, miniback.PushModePlain); err != nil {
			return nil, err
		}
		return checked(outer)
	}
	// Compatible mode carries a plaintext copy beside the ciphertext.
	mode := miniback.PushModeSafe
	if outer.MsgType != "" {
		mode = miniback.PushModeCompat
	}
	if err := allowMode(app, mode); err != nil {
		return nil, err
	}
	if outer.Encrypt == "" || encryptType != "aes" {
		return nil, miniback.Errorf(miniback.ECodeInvalidRequest, "encrypted pushes need encrypt_type=aes and an Encrypt field")
	}
	crypt, err := p.crypt(app)
	if err != nil {
		return nil, err
	}
	plain, err := crypt.VerifyAndDecrypt(timestamp, nonce, outer.Encrypt, msgSignature)
	if errors.Is(err, wxcrypto.ErrSignature) {
		return nil, miniback.WrapError(miniback.ECodeForbidden, "the msg_signature does not match", err)
	}
	if err != nil {
		return nil, miniback.WrapError(miniback.ECodeInvalidRequest, "the Encrypt field could not be decrypted", err)
	}
	m, err := push.Parse(app.MsgFormat, plain)
	if err != nil {
		return nil, miniback.WrapError(miniback.ECodeInvalidRequest, "the decrypted push is not valid "+app.MsgFormat, err)
	}
	if m.Encrypt != "" {
		return nil, miniback.Errorf(miniback.ECodeInvalidRequest, "the decrypted push is itself encrypted")
	}
	return checked(m)
}

// pushModeRank orders the push modes from the weakest.
var pushModeRank = map[string]int{miniback.PushModePlain: 0, miniback.PushModeCompat: 1, miniback.PushModeSafe: 2}

// allowMode refuses a push in a weaker mode than the app's push_mode (an
// app without one takes every mode).
func allowMode(app *miniback.App, mode string) error {
	if pushModeRank[mode] < pushModeRank[app.PushMode] {
		return miniback.Errorf(miniback.ECodeForbidden, "a %s-mode push is refused: this app takes %s mode", mode, app.PushMode)
	}
	return nil
}

// checked rejects a message without a MsgType: it cannot be routed.
func checked(m *push.Message) (*push.Message, error) {
	if m.MsgType == "" {
		return nil, miniback.Errorf(miniback.ECodeInvalidRequest, "the push has no MsgType")
	}
	return m, nil
}

// crypt returns the app's MsgCrypt, built once per app.
func (p *Portal) crypt(app *miniback.App) (*wxcrypto.MsgCrypt, error) {
	if c, ok := p.crypts.Load(app); ok {
		return c.(*wxcrypto.MsgCrypt), nil
	}
	if app.AESKey == "" {
		return nil, miniback.Errorf(miniback.ECodeInvalidRequest, "this app has no EncodingAESKey for encrypted pushes")
	}
	c, err := wxcrypto.NewMsgCrypt(app.Token, app.AESKey, app.AppID)
	if err != nil {
		return nil, miniback.WrapError(miniback.ECodeInvalidRequest, "this app's EncodingAESKey is invalid", err)
	}
	p.crypts.Store(app, c)
	return c, nil
}

// take stores m in the inbox and publishes its id unless it was already
// handled. It reports whether m was new.
func (p *Portal) take(ctx context.Context, appid string, m *push.Message) (bool, error) {
	in := &miniback.InboxMessage{
		AppID: appid, DedupKey: m.DedupKey(), MsgType: m.MsgType, Event: m.Event,
		FromUser: m.FromUserName, CreateTime: m.CreateTime, Message: m.Fields,
		Status: miniback.InboxReceived, ReceivedAt: p.now(),
	}
	created, err := p.Inbox.AddInbox(ctx, in)
	if err != nil {
		return false, miniback.WrapError(miniback.ECodeUnavailable, "the inbox cannot take the message now", err)
	}
	if !created {
		p.debug(ctx, "push repeat", appid, in)
		if in.Status != miniback.InboxReceived {
			return false, nil
		}
	}
	if err := p.publish(ctx, in); err != nil {
		return created, miniback.WrapError(miniback.ECodeUnavailable, "the queue cannot take the message now", err)
	}
	return created, nil
}

// publish queues the id of in, deduplicated by the queue on "inbox-<id>".
func (p *Portal) publish(ctx context.Context, in *miniback.InboxMessage) error {
	id := strconv.FormatInt(in.ID, 10)
	return p.Queue.Publish(ctx, p.Queue.Subject(subjectKind, in.AppID), []byte(id), "inbox-"+id)
}

// Requeue publishes again up to limit messages still received that
// arrived more than olderThan ago (a crash may have lost their publish and
// WeChat stopped retrying). It returns how many it published, and the
// first store or queue error. Run it periodically; a message that is
// merely slow is deduplicated by the queue or skipped by the Dispatcher.
func (p *Portal) Requeue(ctx context.Context, olderThan time.Duration, limit int) (int, error) {
	stale, err := p.Inbox.StaleInbox(ctx, p.now().Add(-olderThan), limit)
	if err != nil {
		return 0, fmt.Errorf("inbox: requeue: %w", err)
	}
	for i, in := range stale {
		if err := p.publish(ctx, in); err != nil {
			return i, fmt.Errorf("inbox: requeue %d: %w", in.ID, err)
		}
	}
	return len(stale), nil
}

// debug logs a repeat at debug level: WeChat retries are normal, not errors.
func (p *Portal) debug(ctx context.Context, msg, appid string, in *miniback.InboxMessage) {
	if p.Logger != nil {
		p.Logger.LogAttrs(ctx, slog.LevelDebug, msg, slog.String("appid", appid),
			slog.Int64("inbox_id", in.ID), slog.String("status", in.Status))
	}
}

func (p *Portal) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// ParseInboxID parses the data of a queue message published by the Portal.
func ParseInboxID(data []byte) (int64, error) {
	id, err := strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 64)
	if err != nil || id <= 0 {
		return 0, miniback.Errorf(miniback.ECodeInvalidRequest, "queue data is not an inbox id")
	}
	return id, nil
}
