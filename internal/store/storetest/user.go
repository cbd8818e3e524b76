package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback"
)

// testUpsertLogin checks creation, re-login and the unionid rule.
func testUpsertLogin(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	type login struct {
		appid, openid, unionid string
		now                    time.Time
	}
	tests := []struct {
		name        string
		logins      []login // the last one is checked
		wantCreated bool
		wantUnion   string
		wantCreate  time.Time
	}{
		{"new user", []login{{"a", "o1", "u1", at(0)}}, true, "u1", at(0)},
		{"new user without unionid", []login{{"a", "o1", "", at(0)}}, true, "", at(0)},
		{"second login", []login{{"a", "o1", "", at(0)}, {"a", "o1", "", at(time.Hour)}}, false, "", at(0)},
		{"second login sets unionid", []login{{"a", "o1", "", at(0)}, {"a", "o1", "u2", at(time.Hour)}}, false, "u2", at(0)},
		{"empty unionid keeps it", []login{{"a", "o1", "u1", at(0)}, {"a", "o1", "", at(time.Hour)}}, false, "u1", at(0)},
		{"new unionid replaces it", []login{{"a", "o1", "u1", at(0)}, {"a", "o1", "u3", at(time.Hour)}}, false, "u3", at(0)},
		{"same openid in other app", []login{{"a", "o1", "", at(0)}, {"b", "o1", "", at(time.Hour)}}, true, "", at(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			us := open(t).Users
			prefix := appID(t)
			var u *miniback.User
			var created bool
			var err error
			for _, l := range tt.logins {
				u, created, err = us.UpsertLogin(ctx, prefix+l.appid, l.openid, l.unionid, l.now)
				if err != nil {
					t.Fatalf("UpsertLogin: %v", err)
				}
			}
			last := tt.logins[len(tt.logins)-1]
			want := &miniback.User{ID: u.ID, AppID: prefix + last.appid, OpenID: last.openid,
				UnionID: tt.wantUnion, CreatedAt: ms(tt.wantCreate), LastLoginAt: ms(last.now)}
			if created != tt.wantCreated {
				t.Errorf("created = %v, want %v", created, tt.wantCreated)
			}
			if u.ID <= 0 {
				t.Errorf("id = %d, want > 0", u.ID)
			}
			sameUser(t, u, want)
			got, err := us.UserByOpenID(ctx, prefix+last.appid, last.openid)
			if err != nil {
				t.Fatalf("UserByOpenID: %v", err)
			}
			sameUser(t, got, want)
		})
	}
}

// testUpsertLoginConcurrent checks that 20 concurrent first logins of one
// openid make one row and report created once.
func testUpsertLoginConcurrent(t *testing.T, open OpenFunc) {
	const n = 20
	ctx := context.Background()
	us := open(t).Users
	appid := appID(t)
	ids := make([]int64, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			u, c, err := us.UpsertLogin(ctx, appid, "same-openid", "", at(0))
			errs[i], created[i] = err, c
			if err == nil {
				ids[i] = u.ID
			}
		})
	}
	close(start)
	wg.Wait()
	nCreated := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("UpsertLogin %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("UpsertLogin %d: id %d, want %d", i, ids[i], ids[0])
		}
		if created[i] {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Errorf("created = true %d times, want 1", nCreated)
	}
	users, err := us.Users(ctx, appid, 0, 100)
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	if len(users) != 1 {
		t.Errorf("Users: %d rows, want 1", len(users))
	}
}

// testUser checks lookup by id and its not_found contract.
func testUser(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	us := open(t).Users
	appid := appID(t)
	u := mustUser(t, us, appid, "o1")
	mustUser(t, us, appid+"x", "o1")
	tests := []struct {
		name     string
		appid    string
		id       int64
		wantCode string
	}{
		{"found", appid, u.ID, ""},
		{"other app", appid + "x", u.ID, miniback.ECodeNotFound},
		{"missing id", appid, u.ID + 1000, miniback.ECodeNotFound},
		{"zero id", appid, 0, miniback.ECodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := us.User(ctx, tt.appid, tt.id)
			wantCode(t, err, tt.wantCode)
			if tt.wantCode == "" {
				sameUser(t, got, u)
			} else if got != nil {
				t.Errorf("user = %+v with an error, want nil", got)
			}
		})
	}
}

// testUserByOpenID checks lookup by openid and its not_found contract.
func testUserByOpenID(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	us := open(t).Users
	appid := appID(t)
	u := mustUser(t, us, appid, "o1")
	tests := []struct {
		name, appid, openid, wantCode string
	}{
		{"found", appid, "o1", ""},
		{"other app", appid + "x", "o1", miniback.ECodeNotFound},
		{"missing openid", appid, "o2", miniback.ECodeNotFound},
		{"empty openid", appid, "", miniback.ECodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := us.UserByOpenID(ctx, tt.appid, tt.openid)
			wantCode(t, err, tt.wantCode)
			if tt.wantCode == "" {
				sameUser(t, got, u)
			} else if got != nil {
				t.Errorf("user = %+v with an error, want nil", got)
			}
		})
	}
}

// testUpdateUser checks partial updates and the not_found contract.
func testUpdateUser(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	str := func(s string) *string { return &s }
	tests := []struct {
		name           string
		first, second  miniback.UserUpdate
		nick, avt, tel string
	}{
		{"nothing", miniback.UserUpdate{}, miniback.UserUpdate{}, "", "", ""},
		{"nickname only", miniback.UserUpdate{Nickname: str("n")}, miniback.UserUpdate{}, "n", "", ""},
		{"all fields", miniback.UserUpdate{Nickname: str("n"), AvatarURL: str("https://a/x.png"), PhoneNumber: str("+8613800000000")},
			miniback.UserUpdate{}, "n", "https://a/x.png", "+8613800000000"},
		{"nil keeps", miniback.UserUpdate{Nickname: str("n"), AvatarURL: str("a")},
			miniback.UserUpdate{PhoneNumber: str("p")}, "n", "a", "p"},
		{"empty clears", miniback.UserUpdate{Nickname: str("n"), AvatarURL: str("a")},
			miniback.UserUpdate{Nickname: str("")}, "", "a", ""},
		{"unicode", miniback.UserUpdate{Nickname: str("微信用户🙂")}, miniback.UserUpdate{}, "微信用户🙂", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			us := open(t).Users
			appid := appID(t)
			u := mustUser(t, us, appid, "o1")
			if _, err := us.UpdateUser(ctx, appid, u.ID, tt.first); err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
			got, err := us.UpdateUser(ctx, appid, u.ID, tt.second)
			if err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
			want := *u
			want.Nickname, want.AvatarURL, want.PhoneNumber = tt.nick, tt.avt, tt.tel
			sameUser(t, got, &want)
			reread, err := us.User(ctx, appid, u.ID)
			if err != nil {
				t.Fatalf("User: %v", err)
			}
			sameUser(t, reread, &want)
		})
	}
	t.Run("not found", func(t *testing.T) {
		us := open(t).Users
		appid := appID(t)
		u := mustUser(t, us, appid, "o1")
		upd := miniback.UserUpdate{Nickname: str("n")}
		_, err := us.UpdateUser(ctx, appid, u.ID+1000, upd)
		wantCode(t, err, miniback.ECodeNotFound)
		_, err = us.UpdateUser(ctx, appid+"x", u.ID, upd)
		wantCode(t, err, miniback.ECodeNotFound)
		got, err := us.User(ctx, appid, u.ID)
		if err != nil {
			t.Fatalf("User: %v", err)
		}
		if got.Nickname != "" {
			t.Errorf("nickname = %q after an update in another app, want empty", got.Nickname)
		}
	})
}

// testUsers checks paging: id order, the afterID cursor, limits and the
// app boundary.
func testUsers(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	us := open(t).Users
	appid := appID(t)
	var ids []int64
	for i := range 5 {
		ids = append(ids, mustUser(t, us, appid, fmt.Sprintf("o%d", i)).ID)
		mustUser(t, us, appid+"x", fmt.Sprintf("o%d", i)) // interleaved other app
	}
	tests := []struct {
		name    string
		appid   string
		afterID int64
		limit   int
		want    []int64
	}{
		{"first page", appid, 0, 2, ids[:2]},
		{"second page", appid, ids[1], 2, ids[2:4]},
		{"last page is short", appid, ids[3], 2, ids[4:]},
		{"after the last", appid, ids[4], 2, nil},
		{"all", appid, 0, 100, ids},
		{"exact limit", appid, 0, 5, ids},
		{"cursor between ids", appid, ids[0] + 1, 100, ids[1:]},
		{"zero limit", appid, 0, 0, nil},
		{"negative limit", appid, 0, -1, nil},
		{"unknown app", appid + "y", 0, 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users, err := us.Users(ctx, tt.appid, tt.afterID, tt.limit)
			if err != nil {
				t.Fatalf("Users: %v", err)
			}
			var got []int64
			for _, u := range users {
				if u.AppID != tt.appid {
					t.Errorf("user %d has appid %q, want %q", u.ID, u.AppID, tt.appid)
				}
				got = append(got, u.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
		})
	}
}

// testTimesRoundTrip checks that times come back as the same instant at
// millisecond precision, whatever their location.
func testTimesRoundTrip(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	shanghai := time.FixedZone("CST", 8*3600)
	tests := []struct {
		name string
		now  time.Time
	}{
		{"utc with nanoseconds", at(0)},
		{"other zone", at(time.Hour).In(shanghai)},
		{"whole second", time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"999 ms", time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			us := open(t).Users
			appid := appID(t)
			if _, _, err := us.UpsertLogin(ctx, appid, "o1", "", tt.now); err != nil {
				t.Fatalf("UpsertLogin: %v", err)
			}
			got, err := us.UserByOpenID(ctx, appid, "o1")
			if err != nil {
				t.Fatalf("UserByOpenID: %v", err)
			}
			want := ms(tt.now)
			if !got.CreatedAt.Equal(want) || !got.LastLoginAt.Equal(want) {
				t.Errorf("times = %v / %v, want %v", got.CreatedAt, got.LastLoginAt, want)
			}
		})
	}
}
