package sandbox

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// phoneCode is a getPhoneNumber-button code: valid CodeTTL, once.
type phoneCode struct {
	AppID   string
	OpenID  string
	Phone   phone
	Expires time.Time
	Used    bool
}

// phone is a parsed phone number.
type phone struct {
	CountryCode int
	Pure        string // without country code
}

// Full is phoneNumber: the pure number for China (+86), "+CC" and the pure
// number otherwise ("foreign numbers carry the country code").
func (p phone) Full() string {
	if p.CountryCode == 86 {
		return p.Pure
	}
	return "+" + strconv.Itoa(p.CountryCode) + p.Pure
}

// parsePhone accepts "13800138000" (country code 86), "+8613800138000",
// and "+CC-NUMBER" or "+CC NUMBER" for other countries.
func parsePhone(s string) (phone, error) {
	s = strings.TrimSpace(s)
	var cc, pure string
	switch {
	case !strings.HasPrefix(s, "+"):
		cc, pure = "86", s
	case strings.ContainsAny(s, " -"):
		cc, pure, _ = strings.Cut(strings.Replace(s[1:], " ", "-", 1), "-")
	case strings.HasPrefix(s, "+86"):
		cc, pure = "86", s[3:]
	default:
		return phone{}, ctlErr(http.StatusBadRequest, "write foreign numbers as +CC-NUMBER")
	}
	n, err := strconv.Atoi(cc)
	if err != nil || n <= 0 || n > 999 || !allDigits(pure) || len(pure) < 4 || len(pure) > 15 {
		return phone{}, ctlErr(http.StatusBadRequest, "invalid phone_number %q", s)
	}
	return phone{CountryCode: n, Pure: pure}, nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// PhoneCodeRequest is what POST /sandbox/phone-code and
// POST /sandbox/phone-encrypted take.
type PhoneCodeRequest struct {
	AppID       string `json:"appid"`
	OpenID      string `json:"openid"`
	PhoneNumber string `json:"phone_number"`
}

// PhoneCode stands in for the getPhoneNumber button: it returns the code
// for user openid (created if new) of app appid and phoneNumber
// ("13800138000", "+8613800138000" or "+CC-NUMBER"). It fails for an
// unknown appid, an empty openid or a malformed number. It is safe for
// concurrent use.
func (s *Server) PhoneCode(appid, openid, phoneNumber string) (code string, err error) {
	p, err := parsePhone(phoneNumber)
	if err != nil {
		return "", err
	}
	if openid == "" {
		return "", ctlErr(http.StatusBadRequest, "openid is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.appForControl(appid)
	if err != nil {
		return "", err
	}
	a.ensureUser(openid)
	code = hex.EncodeToString(randBytes(32))
	s.phoneCodes[code] = &phoneCode{AppID: a.AppID, OpenID: openid, Phone: p, Expires: s.now().Add(s.cfg.CodeTTL)}
	s.phoneOrder.push(code)
	s.trimCodes()
	return code, nil
}

type phoneNumberRequest struct {
	Code   string `json:"code"`
	OpenID string `json:"openid"`
}

type watermark struct {
	Timestamp int64  `json:"timestamp"`
	AppID     string `json:"appid"`
}

type phoneInfo struct {
	PhoneNumber     string    `json:"phoneNumber"`
	PurePhoneNumber string    `json:"purePhoneNumber"`
	CountryCode     int       `json:"countryCode"`
	Watermark       watermark `json:"watermark"`
}

// handleGetPhoneNumber serves POST /wxa/business/getuserphonenumber. A code
// that is unknown, used, expired, another app's, or bound to a different
// openid than the one given is 40029.
func (s *Server) handleGetPhoneNumber(w http.ResponseWriter, r *http.Request, a *appState) error {
	var req phoneNumberRequest
	if err := decodeWX(r, &req); err != nil {
		return err
	}
	c, ok := s.phoneCodes[req.Code]
	if !ok || c.AppID != a.AppID || c.Used || !s.now().Before(c.Expires) ||
		(req.OpenID != "" && req.OpenID != c.OpenID) {
		return wxErr(40029, "invalid code")
	}
	c.Used = true
	info := phoneInfo{
		PhoneNumber: c.Phone.Full(), PurePhoneNumber: c.Phone.Pure, CountryCode: c.Phone.CountryCode,
		Watermark: watermark{Timestamp: s.now().Unix(), AppID: a.AppID},
	}
	writeOK(w, map[string]any{"phone_info": info})
	return nil
}

// EncryptedData is open data as the mini program receives it: what POST
// /sandbox/userinfo (all four fields) and POST /sandbox/phone-encrypted
// (EncryptedData and IV) answer.
type EncryptedData struct {
	RawData       string `json:"raw_data,omitempty"`
	Signature     string `json:"signature,omitempty"`
	EncryptedData string `json:"encrypted_data"`
	IV            string `json:"iv"`
}

// legacyPhone is the plaintext of the old getPhoneNumber button; its
// countryCode is a string there.
type legacyPhone struct {
	PhoneNumber     string    `json:"phoneNumber"`
	PurePhoneNumber string    `json:"purePhoneNumber"`
	CountryCode     string    `json:"countryCode"`
	Watermark       watermark `json:"watermark"`
}

// PhoneEncrypted stands in for the legacy getPhoneNumber button: it
// encrypts the number with the user's current session_key. It fails with
// a 404 control error when the user never logged in.
func (s *Server) PhoneEncrypted(appid, openid, phoneNumber string) (EncryptedData, error) {
	p, err := parsePhone(phoneNumber)
	if err != nil {
		return EncryptedData{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, u, err := s.loggedInUser(appid, openid)
	if err != nil {
		return EncryptedData{}, err
	}
	plain, err := json.Marshal(legacyPhone{
		PhoneNumber: p.Full(), PurePhoneNumber: p.Pure, CountryCode: strconv.Itoa(p.CountryCode),
		Watermark: watermark{Timestamp: s.now().Unix(), AppID: a.AppID},
	})
	if err != nil {
		return EncryptedData{}, err
	}
	enc, iv, err := encryptUserData(u.SessionKey, plain)
	return EncryptedData{EncryptedData: enc, IV: iv}, err
}

// loggedInUser returns a user that has a session_key. The caller holds s.mu.
func (s *Server) loggedInUser(appid, openid string) (*appState, *user, error) {
	a, err := s.appForControl(appid)
	if err != nil {
		return nil, nil, err
	}
	u, ok := a.users[openid]
	if !ok || u.SessionKey == "" {
		return nil, nil, ctlErr(http.StatusNotFound, "user %q of %q never logged in", openid, appid)
	}
	return a, u, nil
}
