package wechat

import "context"

// URLLinkRequest asks for a URL Link (POST /wxa/generate_urllink). Links
// expire within 30 days at most; permanent links no longer exist.
type URLLinkRequest struct {
	// Path is the page, without a query; empty opens the home page.
	Path string `json:"path,omitempty"`
	// Query is the page's query, at most 1024 characters.
	Query string `json:"query,omitempty"`
	// EnvVersion is "release" (default), "trial" or "develop".
	EnvVersion string `json:"env_version,omitempty"`
	// ExpireType is 0 for ExpireTime or 1 for ExpireInterval.
	ExpireType int `json:"expire_type,omitempty"`
	// ExpireTime is when the link expires, in Unix seconds.
	ExpireTime int64 `json:"expire_time,omitempty"`
	// ExpireInterval is the link's life in days, at most 30.
	ExpireInterval int `json:"expire_interval,omitempty"`
	// CloudBase opens a static site of cloud development.
	CloudBase *CloudBase `json:"cloud_base,omitempty"`
}

// CloudBase is the cloud-development static site a URL Link opens.
type CloudBase struct {
	// Env is the cloud environment.
	Env string `json:"env"`
	// Domain is the static site's domain; empty for the default one.
	Domain string `json:"domain,omitempty"`
	// Path is the page within the site.
	Path string `json:"path,omitempty"`
	// Query is the page's query.
	Query string `json:"query,omitempty"`
	// ResourceAppID is the appid owning a shared environment.
	ResourceAppID string `json:"resource_appid,omitempty"`
}

// SchemeRequest asks for a URL Scheme (POST /wxa/generatescheme).
type SchemeRequest struct {
	// JumpWxa is the page to open; nil opens the home page.
	JumpWxa *JumpWxa `json:"jump_wxa,omitempty"`
	// ExpireType is 0 for ExpireTime or 1 for ExpireInterval.
	ExpireType int `json:"expire_type,omitempty"`
	// ExpireTime is when the scheme expires, in Unix seconds.
	ExpireTime int64 `json:"expire_time,omitempty"`
	// ExpireInterval is the scheme's life in days, at most 30.
	ExpireInterval int `json:"expire_interval,omitempty"`
}

// JumpWxa is the page a URL Scheme opens.
type JumpWxa struct {
	// Path is the published page; empty opens the home page.
	Path string `json:"path"`
	// Query is the page's query, at most 1024 characters.
	Query string `json:"query"`
	// EnvVersion is "release" (default), "trial" or "develop".
	EnvVersion string `json:"env_version,omitempty"`
}

// ShortLinkRequest asks for a Short Link (POST /wxa/genwxashortlink).
type ShortLinkRequest struct {
	// PageURL is the page with an optional query, at most 1024 characters.
	PageURL string `json:"page_url"`
	// PageTitle is shown with the link; cut after 20 characters.
	PageTitle string `json:"page_title,omitempty"`
	// IsPermanent asks for a permanent link (100,000 in total).
	IsPermanent bool `json:"is_permanent,omitempty"`
}

// GenerateURLLink returns a URL Link (https://wxaurl.cn/…). req is a
// *URLLinkRequest, or a json.RawMessage / []byte of WeChat's parameters sent
// as is, which lets an API pass its caller's parameters through. It fails
// with *Error, e.g. 40165 for a bad page path or 85079 for an unpublished
// app; URL Links and Schemes share a quota of 500,000 a day.
func (c *Client) GenerateURLLink(ctx context.Context, req any) (string, error) {
	var ans struct {
		URLLink string `json:"url_link"`
	}
	err := c.generate(ctx, "/wxa/generate_urllink", req, &ans, &ans.URLLink)
	return ans.URLLink, err
}

// GenerateScheme returns a URL Scheme (weixin://dl/business/?t=…). req is a
// *SchemeRequest or raw JSON as in GenerateURLLink.
func (c *Client) GenerateScheme(ctx context.Context, req any) (string, error) {
	var ans struct {
		OpenLink string `json:"openlink"`
	}
	err := c.generate(ctx, "/wxa/generatescheme", req, &ans, &ans.OpenLink)
	return ans.OpenLink, err
}

// GenerateShortLink returns a Short Link (#小程序://…) that works only inside
// WeChat. req is a *ShortLinkRequest or raw JSON as in GenerateURLLink.
func (c *Client) GenerateShortLink(ctx context.Context, req any) (string, error) {
	var ans struct {
		Link string `json:"link"`
	}
	err := c.generate(ctx, "/wxa/genwxashortlink", req, &ans, &ans.Link)
	return ans.Link, err
}

// generate posts req to path and checks that the answer filled *result.
func (c *Client) generate(ctx context.Context, path string, req, ans any, result *string) error {
	r, err := newJSONRequest(path, req)
	if err != nil {
		return err
	}
	if err := c.callJSON(ctx, r, ans); err != nil {
		return err
	}
	if *result == "" {
		return errUnexpected(path, "no link")
	}
	return nil
}
