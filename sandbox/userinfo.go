package sandbox

import (
	"bytes"
	"encoding/json"
)

// DefaultNickname and DefaultAvatarURL are what wx.getUserInfo reports
// when POST /sandbox/userinfo names neither.
const (
	DefaultNickname  = "微信用户"
	DefaultAvatarURL = "https://thirdwx.qlogo.cn/mmopen/vi_32/POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGKSyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132"
)

// UserInfoRequest is what POST /sandbox/userinfo takes.
type UserInfoRequest struct {
	AppID     string `json:"appid"`
	OpenID    string `json:"openid"`
	Nickname  string `json:"nickname,omitempty"`
	AvatarURL string `json:"avatar_url,omitempty"`
}

// rawUserInfo is wx.getUserInfo's rawData, field order as WeChat sends it.
type rawUserInfo struct {
	NickName  string `json:"nickName"`
	Gender    int    `json:"gender"`
	Language  string `json:"language"`
	City      string `json:"city"`
	Province  string `json:"province"`
	Country   string `json:"country"`
	AvatarURL string `json:"avatarUrl"`
}

// fullUserInfo is the plaintext of wx.getUserInfo's encryptedData.
type fullUserInfo struct {
	OpenID string `json:"openId"`
	rawUserInfo
	UnionID   string    `json:"unionId,omitempty"`
	Watermark watermark `json:"watermark"`
}

// UserInfo stands in for wx.getUserInfo: rawData, its signature
// sha1(rawData + session_key), and the encrypted full profile with a
// watermark, all with the user's current session_key. It fails with a
// 404 control error when the user never logged in.
func (s *Server) UserInfo(req UserInfoRequest) (EncryptedData, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, u, err := s.loggedInUser(req.AppID, req.OpenID)
	if err != nil {
		return EncryptedData{}, err
	}
	info := rawUserInfo{NickName: req.Nickname, Language: "zh_CN", AvatarURL: req.AvatarURL}
	if info.NickName == "" {
		info.NickName = DefaultNickname
	}
	if info.AvatarURL == "" {
		info.AvatarURL = DefaultAvatarURL
	}
	raw, err := marshalNoEscape(info)
	if err != nil {
		return EncryptedData{}, err
	}
	full, err := marshalNoEscape(fullUserInfo{OpenID: u.OpenID, rawUserInfo: info, UnionID: u.UnionID,
		Watermark: watermark{Timestamp: s.now().Unix(), AppID: a.AppID}})
	if err != nil {
		return EncryptedData{}, err
	}
	enc, iv, err := encryptUserData(u.SessionKey, full)
	if err != nil {
		return EncryptedData{}, err
	}
	return EncryptedData{RawData: string(raw), Signature: rawDataSignature(string(raw), u.SessionKey), EncryptedData: enc, IV: iv}, nil
}

// marshalNoEscape is json.Marshal without HTML escaping and trailing newline.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(buf.String()[:buf.Len()-1]), nil
}
