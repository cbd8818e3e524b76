package miniback

import "log/slog"

// App is one mini program served by this process, chosen per request by the
// {appid} in the path. Secret, Token and AESKey are secrets: App redacts them
// when logged.
type App struct {
	AppID     string
	Secret    string
	Token     string // message-push token
	AESKey    string // 43-character EncodingAESKey
	MsgFormat string // "JSON" or "XML"
	PushURL   string // sandbox only: where its pushes go
	// PushMode is PushModePlain, PushModeCompat or PushModeSafe: the
	// weakest push mode accepted.
	PushMode string
	// LegacyDecrypt enables the legacy encrypted_data routes.
	LegacyDecrypt bool
}

// Message-push modes, weakest first (protocol §d): plaintext, compatible
// (plaintext fields beside the ciphertext) and safe (ciphertext only).
const (
	PushModePlain  = "plain"
	PushModeCompat = "compat"
	PushModeSafe   = "safe"
)

// LogValue implements slog.LogValuer so that secrets never reach a log.
func (a App) LogValue() slog.Value {
	return slog.GroupValue(slog.String("appid", a.AppID), slog.String("msg_format", a.MsgFormat))
}

// Apps looks apps up by appid. It is read-only after start and safe for
// concurrent use.
type Apps map[string]*App

// Get returns the app for appid or an Error with code app_not_found.
func (a Apps) Get(appid string) (*App, error) {
	if app, ok := a[appid]; ok {
		return app, nil
	}
	return nil, Errorf(ECodeAppNotFound, "no app with this appid is served here")
}
