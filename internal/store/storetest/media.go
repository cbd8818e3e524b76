package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/miniback/miniback"
)

// mediaString renders every field of m, times as unix milliseconds.
func mediaString(m *miniback.Media) string {
	return fmt.Sprintf("%s|%s|%d|%s|%s|%d|%d|%d", m.AppID, m.MediaID, m.UserID, m.Type,
		m.ContentType, m.Size, millisOrZero(m.CreatedAt), millisOrZero(m.ExpiresAt))
}

// checkString renders every field of c, times as unix milliseconds.
func checkString(c *miniback.MediaCheck) string {
	return fmt.Sprintf("%s|%s|%s|%d|%s|%s|%d|%d|%d", c.AppID, c.TraceID, c.MediaURL,
		c.MediaType, c.OpenID, c.Status, c.Label, millisOrZero(c.CreatedAt), millisOrZero(c.CheckedAt))
}

// testMedia checks add, get, replace and the not_found contract.
func testMedia(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	tests := []struct {
		name    string
		adds    []miniback.Media // the last one is expected back
		getApp  string           // suffix of the lookup's appid
		getID   string
		wantErr string
	}{
		{"add", []miniback.Media{{MediaID: "m1", UserID: 7, Type: "image", ContentType: "image/png",
			Size: 1234, CreatedAt: at(0), ExpiresAt: at(72 * time.Hour)}}, "", "m1", ""},
		{"replace", []miniback.Media{{MediaID: "m1", UserID: 7, Type: "image", ContentType: "image/png",
			Size: 1, CreatedAt: at(0), ExpiresAt: at(time.Hour)},
			{MediaID: "m1", UserID: 8, Type: "image", ContentType: "image/jpeg", Size: 2,
				CreatedAt: at(time.Minute), ExpiresAt: at(2 * time.Hour)}}, "", "m1", ""},
		{"other app", []miniback.Media{{MediaID: "m1", CreatedAt: at(0), ExpiresAt: at(0)}}, "x", "m1", miniback.ECodeNotFound},
		{"missing id", []miniback.Media{{MediaID: "m1", CreatedAt: at(0), ExpiresAt: at(0)}}, "", "m2", miniback.ECodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := open(t).Media
			appid := appID(t)
			var want miniback.Media
			for _, m := range tt.adds {
				m.AppID = appid
				if err := st.AddMedia(ctx, &m); err != nil {
					t.Fatalf("AddMedia: %v", err)
				}
				want = m
			}
			got, err := st.Media(ctx, appid+tt.getApp, tt.getID)
			wantCode(t, err, tt.wantErr)
			if tt.wantErr == "" && mediaString(got) != mediaString(&want) {
				t.Errorf("got %s, want %s", mediaString(got), mediaString(&want))
			}
		})
	}
}

// testMediaCheck checks that a check starts pending, takes its verdict, and
// the not_found contracts.
func testMediaCheck(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t).Media
	appid := appID(t)
	c := &miniback.MediaCheck{TraceID: "trace-1", AppID: appid, MediaURL: "https://cdn.example/a.png",
		MediaType: 2, OpenID: "o1", CreatedAt: at(0)}
	if err := st.AddMediaCheck(ctx, c); err != nil {
		t.Fatalf("AddMediaCheck: %v", err)
	}
	want := *c
	want.Status = "pending"
	got, err := st.MediaCheck(ctx, appid, "trace-1")
	if err != nil {
		t.Fatalf("MediaCheck: %v", err)
	}
	if checkString(got) != checkString(&want) {
		t.Fatalf("got %s, want %s", checkString(got), checkString(&want))
	}
	if err := st.FinishMediaCheck(ctx, appid, "trace-1", "risky", 20002, at(time.Minute)); err != nil {
		t.Fatalf("FinishMediaCheck: %v", err)
	}
	want.Status, want.Label, want.CheckedAt = "risky", 20002, at(time.Minute)
	got, err = st.MediaCheck(ctx, appid, "trace-1")
	if err != nil {
		t.Fatalf("MediaCheck: %v", err)
	}
	if checkString(got) != checkString(&want) {
		t.Errorf("got %s, want %s", checkString(got), checkString(&want))
	}
	tests := []struct {
		name, appid, traceID string
	}{
		{"other app", appid + "x", "trace-1"},
		{"missing trace", appid, "trace-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := st.MediaCheck(ctx, tt.appid, tt.traceID)
			wantCode(t, err, miniback.ECodeNotFound)
			err = st.FinishMediaCheck(ctx, tt.appid, tt.traceID, "pass", 0, at(0))
			wantCode(t, err, miniback.ECodeNotFound)
		})
	}
}

// testCode checks that the first image put for a key stays, binary-exact,
// and the not_found contract.
func testCode(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t).Media
	appid := appID(t)
	first := &miniback.Code{AppID: appid, Key: "k1", ContentType: "image/png",
		Image: []byte("\x89PNG\r\n\x1a\n\x00\xff"), CreatedAt: at(0)}
	second := &miniback.Code{AppID: appid, Key: "k1", ContentType: "image/jpeg",
		Image: []byte("other"), CreatedAt: at(time.Hour)}
	for _, c := range []*miniback.Code{first, second} {
		if err := st.PutCode(ctx, c); err != nil {
			t.Fatalf("PutCode: %v", err)
		}
	}
	tests := []struct {
		name, appid, key, wantErr string
	}{
		{"first image kept", appid, "k1", ""},
		{"other app", appid + "x", "k1", miniback.ECodeNotFound},
		{"missing key", appid, "k2", miniback.ECodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.Code(ctx, tt.appid, tt.key)
			wantCode(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			if got.AppID != appid || got.Key != "k1" || got.ContentType != first.ContentType ||
				!bytes.Equal(got.Image, first.Image) || !got.CreatedAt.Equal(ms(first.CreatedAt)) {
				t.Errorf("got %+v, want %+v", got, first)
			}
		})
	}
}
