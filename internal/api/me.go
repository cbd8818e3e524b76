package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/wxcrypto"
)

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	a := miniback.AuthFrom(r.Context())
	u := userOf(r.Context())
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

// handlePhone resolves the phone number from the new button code, or from
// the legacy encrypted form with the session key held here, and stores it.
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
	case req.EncryptedData != "" && req.IV != "":
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

// legacyPhone is the plaintext of the old getPhoneNumber button.
type legacyPhone struct {
	PhoneNumber     string          `json:"phoneNumber"`
	PurePhoneNumber string          `json:"purePhoneNumber"`
	CountryCode     json.RawMessage `json:"countryCode"` // string or number
}

func (s *Server) phoneFromCipher(ctx context.Context, data, iv string) (*phoneAnswer, error) {
	plain, err := s.openUserData(ctx, data, iv)
	if err != nil {
		return nil, err
	}
	var p legacyPhone
	if err := json.Unmarshal(plain, &p); err != nil || p.PhoneNumber == "" {
		return nil, miniback.Errorf(miniback.ECodeDecryptFailed, "the decrypted data is not a phone number")
	}
	cc := strings.Trim(string(p.CountryCode), `"`)
	if _, err := strconv.Atoi(cc); err != nil {
		cc = ""
	}
	return &phoneAnswer{PhoneNumber: p.PhoneNumber, PurePhoneNumber: p.PurePhoneNumber, CountryCode: cc}, nil
}

type userInfoRequest struct {
	RawData       string `json:"raw_data"`
	Signature     string `json:"signature"`
	EncryptedData string `json:"encrypted_data"`
	IV            string `json:"iv"`
}

// handleUserInfo checks the legacy rawData signature and decrypts the user
// info with the session key held on the server.
func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) error {
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
	var info struct {
		OpenID    string `json:"openId"`
		NickName  string `json:"nickName"`
		AvatarURL string `json:"avatarUrl"`
	}
	a := miniback.AuthFrom(ctx)
	u, err := s.Users.User(ctx, a.AppID, a.UserID)
	if err != nil {
		return err
	}
	if json.Unmarshal(plain, &info) != nil || (info.OpenID != "" && info.OpenID != u.OpenID) {
		return miniback.Errorf(miniback.ECodeDecryptFailed, "the decrypted data does not belong to this user")
	}
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
// checks its watermark against the app.
func (s *Server) openUserData(ctx context.Context, data, iv string) ([]byte, error) {
	key, err := s.sessionKey(ctx)
	if err != nil {
		return nil, err
	}
	plain, err := wxcrypto.DecryptUserData(key, data, iv, miniback.AuthFrom(ctx).AppID)
	if errors.Is(err, wxcrypto.ErrWatermark) {
		return nil, miniback.Errorf(miniback.ECodeDecryptFailed, "the data was made for another app")
	}
	if err != nil {
		return nil, miniback.Errorf(miniback.ECodeDecryptFailed, "encrypted_data could not be decrypted with this session's key; log in again if the session changed")
	}
	return plain, nil
}
