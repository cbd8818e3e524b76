package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/flex"
	"github.com/miniback/miniback/wxcrypto"
)

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	a := miniback.AuthFrom(r.Context())
	u := userOf(r.Context())
	if body := userJSONOf(r.Context()); body != nil && u != nil && u.ID == a.UserID && u.AppID == a.AppID {
		writeJSONBytes(w, http.StatusOK, body)
		return nil
	}
	if u == nil || u.ID != a.UserID || u.AppID != a.AppID {
		var err error
		if u, err = s.Users.User(r.Context(), a.AppID, a.UserID); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

type patchMeRequest struct {
	Nickname  *string `json:"nickname"`
	AvatarURL *string `json:"avatar_url"`
}

func (s *Server) handlePatchMe(w http.ResponseWriter, r *http.Request) error {
	var req patchMeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Nickname == nil && req.AvatarURL == nil {
		return miniback.Errorf(miniback.ECodeInvalidRequest, "give nickname or avatar_url")
	}
	if req.Nickname != nil {
		if err := validNickname(*req.Nickname); err != nil {
			return err
		}
	}
	if req.AvatarURL != nil {
		if err := validAvatarURL(*req.AvatarURL); err != nil {
			return err
		}
	}
	a := miniback.AuthFrom(r.Context())
	u, err := s.Users.UpdateUser(r.Context(), a.AppID, a.UserID, miniback.UserUpdate{Nickname: req.Nickname, AvatarURL: req.AvatarURL})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func validNickname(n string) error {
	if !utf8.ValidString(n) || utf8.RuneCountInString(n) > 64 {
		return miniback.Errorf(miniback.ECodeInvalidRequest, "nickname must be valid UTF-8 of at most 64 characters")
	}
	for _, c := range n {
		if unicode.IsControl(c) {
			return miniback.Errorf(miniback.ECodeInvalidRequest, "nickname must not contain control characters")
		}
	}
	return nil
}

func validAvatarURL(raw string) error {
	if raw == "" {
		return nil // clears the avatar
	}
	u, err := url.Parse(raw)
	if err != nil || len(raw) > 1024 || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return miniback.Errorf(miniback.ECodeInvalidRequest, "avatar_url must be an http(s) URL of at most 1024 characters")
	}
	return nil
}

type phoneRequest struct {
	Code          string `json:"code"`
	EncryptedData string `json:"encrypted_data"`
	IV            string `json:"iv"`
}

type phoneAnswer struct {
	PhoneNumber     string `json:"phone_number"`
	PurePhoneNumber string `json:"pure_phone_number"`
	CountryCode     string `json:"country_code"`
}

// handlePhone resolves the phone number from the new button code, or, for
// apps with legacy_decrypt, from the legacy encrypted form with the session
// key held here, and stores it.
func (s *Server) handlePhone(w http.ResponseWriter, r *http.Request) error {
	var req phoneRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	var ans *phoneAnswer
	var err error
	switch {
	case req.Code != "" && (req.EncryptedData != "" || req.IV != ""):
		return miniback.Errorf(miniback.ECodeInvalidRequest, "give either code or encrypted_data and iv, not both")
	case req.Code != "":
		ans, err = s.phoneFromCode(r.Context(), req.Code)
	case req.EncryptedData != "" || req.IV != "":
		if err := s.legacyAllowed(r); err != nil {
			return err
		}
		if req.EncryptedData == "" || req.IV == "" {
			return miniback.Errorf(miniback.ECodeInvalidRequest, "give both encrypted_data and iv")
		}
		ans, err = s.phoneFromCipher(r.Context(), req.EncryptedData, req.IV)
	default:
		return miniback.Errorf(miniback.ECodeInvalidRequest, "give code, or encrypted_data and iv")
	}
	if err != nil {
		return err
	}
	a := miniback.AuthFrom(r.Context())
	if _, err := s.Users.UpdateUser(r.Context(), a.AppID, a.UserID, miniback.UserUpdate{PhoneNumber: &ans.PhoneNumber}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

func (s *Server) phoneFromCode(ctx context.Context, code string) (*phoneAnswer, error) {
	if err := validCode(code); err != nil {
		return nil, err
	}
	a := miniback.AuthFrom(ctx)
	info, err := s.WeChat[a.AppID].PhoneNumber(ctx, code)
	if err != nil {
		return nil, fromWeChat(ctx, err)
	}
	return &phoneAnswer{PhoneNumber: info.PhoneNumber, PurePhoneNumber: info.PurePhoneNumber, CountryCode: info.CountryCode}, nil
}

// legacyAllowed answers 404 unless the app turned the legacy encrypted_data
// routes on. Legacy encryptedData is AES-CBC without integrity under an IV
// the client picks: the phone-number code is WeChat's current way.
func (s *Server) legacyAllowed(r *http.Request) error {
	if !s.appOf(r).LegacyDecrypt {
		return miniback.Errorf(miniback.ECodeNotFound, "legacy encrypted_data is off for this app (apps[].legacy_decrypt); use the phone-number code")
	}
	return nil
}

// errLegacy is the one answer for every refused legacy payload, whatever
// the cause (padding, JSON, fields, watermark, owner): a different answer
// per cause would be an oracle for CBC padding and bit-flipping attacks.
func errLegacy() error {
	return miniback.Errorf(miniback.ECodeDecryptFailed, "encrypted_data is not WeChat's data for this app, user and session; log in again if the session changed")
}

// phoneFromCipher decodes the legacy phone payload strictly: exactly
// WeChat's fields, digits where WeChat puts digits, phoneNumber made of
// countryCode and purePhoneNumber, and a fresh watermark for this app. A
// payload altered block by block cannot meet all of it by chance.
func (s *Server) phoneFromCipher(ctx context.Context, data, iv string) (*phoneAnswer, error) {
	plain, err := s.openUserData(ctx, data, iv)
	if err != nil {
		return nil, err
	}
	top, ok := exactObject(plain, "phoneNumber", "purePhoneNumber", "countryCode", "watermark")
	if !ok {
		return nil, errLegacy()
	}
	var phone, pure string
	var cc flex.String
	if json.Unmarshal(top["phoneNumber"], &phone) != nil || json.Unmarshal(top["purePhoneNumber"], &pure) != nil ||
		json.Unmarshal(top["countryCode"], &cc) != nil || !s.freshWatermark(ctx, top["watermark"]) {
		return nil, errLegacy()
	}
	if !digits(string(cc), 1, 4) || !digits(pure, 4, 15) ||
		(phone != pure && phone != "+"+string(cc)+pure && phone != string(cc)+pure) {
		return nil, errLegacy()
	}
	return &phoneAnswer{PhoneNumber: phone, PurePhoneNumber: pure, CountryCode: string(cc)}, nil
}

// digits reports whether s is min to max ASCII digits.
func digits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// exactObject decodes raw as a JSON object whose keys are exactly keys
// (matched case-sensitively, each once).
func exactObject(raw []byte, keys ...string) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if !utf8.Valid(raw) || json.Unmarshal(raw, &m) != nil || len(m) != len(keys) {
		return nil, false
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return nil, false
		}
	}
	return m, true
}

// watermarkSkew is the clock difference tolerated between WeChat and us.
const watermarkSkew = 10 * time.Second

// freshWatermark reports whether raw is exactly {"timestamp","appid"} for
// this app with a timestamp within the session's life: data made before
// this session's login, or in the future, is refused.
func (s *Server) freshWatermark(ctx context.Context, raw json.RawMessage) bool {
	m, ok := exactObject(raw, "timestamp", "appid")
	if !ok {
		return false
	}
	var wm wxcrypto.Watermark
	if json.Unmarshal(m["appid"], &wm.AppID) != nil || json.Unmarshal(m["timestamp"], &wm.Timestamp) != nil {
		return false
	}
	if wxcrypto.CheckWatermark(wm, miniback.AuthFrom(ctx).AppID) != nil {
		return false
	}
	issued := time.Unix(wm.Timestamp, 0)
	return !issued.Before(sessionOf(ctx).CreatedAt.Add(-watermarkSkew)) && !issued.After(s.Now().Add(watermarkSkew))
}

type userInfoRequest struct {
	RawData       string `json:"raw_data"`
	Signature     string `json:"signature"`
	EncryptedData string `json:"encrypted_data"`
	IV            string `json:"iv"`
}

// handleUserInfo checks the legacy rawData signature, decrypts the user
// info with the session key held on the server and answers it only when it
// is the signed raw_data plus this user's openId (and unionId) and a fresh
// watermark: the caller already knows every byte of the answer, so the
// route cannot be used to decrypt anything else.
func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) error {
	if err := s.legacyAllowed(r); err != nil {
		return err
	}
	var req userInfoRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.RawData == "" || req.Signature == "" || req.EncryptedData == "" || req.IV == "" {
		return miniback.Errorf(miniback.ECodeInvalidRequest, "raw_data, signature, encrypted_data and iv are required")
	}
	ctx := r.Context()
	key, err := s.sessionKey(ctx)
	if err != nil {
		return err
	}
	if !wxcrypto.VerifyRawDataSignature(req.RawData, key, req.Signature) {
		return miniback.Errorf(miniback.ECodeInvalidSignature, "the signature does not match raw_data and this session; log in again if the session changed")
	}
	plain, err := s.openUserData(ctx, req.EncryptedData, req.IV)
	if err != nil {
		return err
	}
	a := miniback.AuthFrom(ctx)
	u, err := s.Users.User(ctx, a.AppID, a.UserID)
	if err != nil {
		return err
	}
	if !s.profileMatches(ctx, plain, req.RawData, u) {
		return errLegacy()
	}
	var info struct {
		NickName  string `json:"nickName"`
		AvatarURL string `json:"avatarUrl"`
	}
	_ = json.Unmarshal(plain, &info) // profileMatches checked it
	upd := miniback.UserUpdate{}
	if info.NickName != "" && validNickname(info.NickName) == nil {
		upd.Nickname = &info.NickName
	}
	if info.AvatarURL != "" && validAvatarURL(info.AvatarURL) == nil {
		upd.AvatarURL = &info.AvatarURL
	}
	if upd.Nickname != nil || upd.AvatarURL != nil {
		if _, err := s.Users.UpdateUser(ctx, a.AppID, a.UserID, upd); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, err = w.Write(append(plain, '\n'))
	return err
}

// profileMatches reports whether the decrypted profile is the signed
// rawData (every field, equal) plus openId (the user's), an optional
// unionId, and a fresh watermark, and nothing else.
func (s *Server) profileMatches(ctx context.Context, plain []byte, rawData string, u *miniback.User) bool {
	var raw, got map[string]json.RawMessage
	if !utf8.Valid(plain) || json.Unmarshal([]byte(rawData), &raw) != nil || json.Unmarshal(plain, &got) != nil {
		return false
	}
	for k, v := range got {
		switch k {
		case "openId":
			var id string
			if json.Unmarshal(v, &id) != nil || id != u.OpenID {
				return false
			}
		case "unionId":
			var id string
			if json.Unmarshal(v, &id) != nil || (u.UnionID != "" && id != u.UnionID) {
				return false
			}
		case "watermark":
			if !s.freshWatermark(ctx, v) {
				return false
			}
		default:
			if r, ok := raw[k]; !ok || !sameJSON(r, v) {
				return false
			}
		}
	}
	_, hasOpenID := got["openId"]
	_, hasWatermark := got["watermark"]
	return hasOpenID && hasWatermark && coversKeys(got, raw)
}

// coversKeys reports whether every key of raw is in got.
func coversKeys(got, raw map[string]json.RawMessage) bool {
	for k := range raw {
		if _, ok := got[k]; !ok {
			return false
		}
	}
	return true
}

// sameJSON reports whether a and b are the same JSON value, whatever their
// spelling (escapes, spaces).
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// sessionKey opens the WeChat session key of the request's session.
func (s *Server) sessionKey(ctx context.Context) (string, error) {
	sess := sessionOf(ctx)
	key, err := s.Sealer.Open(sess.SealedSessionKey, sealBinding(sess.AppID, sess.UserID))
	if err != nil {
		return "", miniback.WrapError(miniback.ECodeInternal, "the session key could not be opened", err)
	}
	return string(key), nil
}

// openUserData decrypts legacy encryptedData with the session key and
// checks its watermark against the app. Every failure is errLegacy.
func (s *Server) openUserData(ctx context.Context, data, iv string) ([]byte, error) {
	key, err := s.sessionKey(ctx)
	if err != nil {
		return nil, err
	}
	plain, err := wxcrypto.DecryptUserData(key, data, iv, miniback.AuthFrom(ctx).AppID)
	if err != nil {
		return nil, errLegacy()
	}
	return plain, nil
}
