package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/wechat"
)

type wxacodeRequest struct {
	Scene      string `json:"scene"`
	Page       string `json:"page"`
	Width      int    `json:"width"`
	EnvVersion string `json:"env_version"`
	CheckPath  *bool  `json:"check_path"`
}

var (
	scenePattern = regexp.MustCompile(`^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$`)
	pagePattern  = regexp.MustCompile(`^[A-Za-z0-9_\-./]{0,128}$`)
	validEnvs    = map[string]bool{"": true, "release": true, "trial": true, "develop": true}
)

// normalise validates the parameters as WeChat does and fills its defaults,
// so that equal codes share one cache key.
func (q *wxacodeRequest) normalise() error {
	bad := func(msg string) error { return miniback.Errorf(miniback.ECodeInvalidRequest, "%s", msg) }
	switch {
	case !scenePattern.MatchString(q.Scene):
		return bad("scene must be 1 to 32 characters of 0-9 A-Z a-z and !#$&'()*+,/:;=?@-._~")
	case strings.HasPrefix(q.Page, "/") || strings.Contains(q.Page, "?") || !pagePattern.MatchString(q.Page):
		return bad("page must be a page path without a leading / or a query")
	case q.Width != 0 && (q.Width < 280 || q.Width > 1280):
		return bad("width must be from 280 to 1280")
	case !validEnvs[q.EnvVersion]:
		return bad("env_version must be release, trial or develop")
	}
	if q.Width == 0 {
		q.Width = 430
	}
	if q.EnvVersion == "" {
		q.EnvVersion = "release"
	}
	if q.CheckPath == nil {
		t := true
		q.CheckPath = &t
	}
	return nil
}

func (q *wxacodeRequest) key(appid string) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%d\x00%s\x00%t", appid, q.Scene, q.Page, q.Width, q.EnvVersion, *q.CheckPath))
	return hex.EncodeToString(sum[:])
}

// codeFlight makes concurrent requests for one code share one WeChat call.
type codeFlight struct {
	mu    sync.Mutex
	calls map[string]*codeCall
}

type codeCall struct {
	done chan struct{}
	code *miniback.Code
	err  error
}

func (f *codeFlight) do(key string, fn func() (*miniback.Code, error)) (*miniback.Code, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*codeCall{}
	}
	if c, ok := f.calls[key]; ok {
		f.mu.Unlock()
		<-c.done
		return c.code, c.err
	}
	c := &codeCall{done: make(chan struct{})}
	f.calls[key] = c
	f.mu.Unlock()
	c.code, c.err = fn()
	close(c.done)
	f.mu.Lock()
	delete(f.calls, key)
	f.mu.Unlock()
	return c.code, c.err
}

// handleWxaCode answers an unlimited mini-program code, fetched from WeChat
// once per set of parameters and cached in the database after that.
func (s *Server) handleWxaCode(w http.ResponseWriter, r *http.Request) error {
	var req wxacodeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := req.normalise(); err != nil {
		return err
	}
	appid := miniback.AuthFrom(r.Context()).AppID
	key := req.key(appid)
	code, err := s.codes.do(key, func() (*miniback.Code, error) {
		return s.fetchCode(context.WithoutCancel(r.Context()), appid, key, &req)
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", code.ContentType)
	w.Header().Set("Cache-Control", "private, max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write(code.Image)
	return err
}

// fetchCode returns the cached code, or fetches it from WeChat and caches
// it. Within an instance codeFlight already joins concurrent requests;
// across instances the one holding the code's lock in the state store
// calls WeChat while the others wait for the code to appear in the
// database. The lock only saves calls: when it cannot be had in time the
// instance calls WeChat itself, and PutCode keeps the first image stored.
func (s *Server) fetchCode(ctx context.Context, appid, key string, req *wxacodeRequest) (*miniback.Code, error) {
	c, release, err := s.awaitCode(ctx, appid, key)
	if c != nil || err != nil {
		return c, err
	}
	defer release()
	img, ctype, err := s.WeChat[appid].UnlimitedCode(ctx, &wechat.UnlimitedCodeRequest{Scene: req.Scene, Page: req.Page,
		Width: req.Width, EnvVersion: req.EnvVersion, CheckPath: req.CheckPath})
	if err != nil {
		return nil, fromWeChat(ctx, err)
	}
	c = &miniback.Code{AppID: appid, Key: key, ContentType: ctype, Image: img, CreatedAt: s.Now()}
	if err := s.Media.PutCode(ctx, c); err != nil {
		return nil, err
	}
	return s.Media.Code(ctx, appid, key) // another instance may have stored it first
}

// codeLockTTL bounds how long one instance may hold a code's lock: longer
// than a WeChat call, short enough that a dead holder frees it soon.
const codeLockTTL = 15 * time.Second

// awaitCode returns the cached code, or, when it is missing, takes the
// code's deployment-wide lock and returns its release (the caller then
// fetches). While another instance holds the lock it polls the cache.
func (s *Server) awaitCode(ctx context.Context, appid, key string) (*miniback.Code, func(), error) {
	lockKey := "wxacode:{" + appid + "}:" + key
	owner := rand.Text()
	deadline := time.Now().Add(codeLockTTL)
	for {
		if c, err := s.Media.Code(ctx, appid, key); err == nil {
			return c, nil, nil
		} else if !miniback.IsNotFound(err) {
			return nil, nil, err
		}
		if s.State == nil || time.Now().After(deadline) {
			return nil, func() {}, nil
		}
		ok, err := s.State.SetNX(ctx, lockKey, owner, codeLockTTL)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			release := func() { s.State.DeleteIfEqual(context.WithoutCancel(ctx), lockKey, owner) }
			// The holder before us may have stored it between our read and our lock.
			if c, err := s.Media.Code(ctx, appid, key); err == nil {
				release()
				return c, nil, nil
			}
			return nil, release, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
