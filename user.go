package miniback

import (
	"context"
	"time"
)

// User is a person signed in to one mini program: unique per (AppID, OpenID).
type User struct {
	ID          int64     `json:"id"`
	AppID       string    `json:"appid"`
	OpenID      string    `json:"openid"`
	UnionID     string    `json:"unionid,omitempty"`
	Nickname    string    `json:"nickname,omitempty"`
	AvatarURL   string    `json:"avatar_url,omitempty"`
	PhoneNumber string    `json:"phone_number,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	LastLoginAt time.Time `json:"last_login_at,omitzero"`
}

// UserUpdate holds the fields a user may change; nil fields stay as they are.
type UserUpdate struct {
	Nickname    *string
	AvatarURL   *string
	PhoneNumber *string
}

// UserPage is one page of users in id order; NextCursor is empty on the last page.
type UserPage struct {
	Users      []*User `json:"users"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// UserStore keeps users. Implementations are safe for concurrent use.
type UserStore interface {
	// UpsertLogin creates the user for (appid, openid) or, when it exists,
	// sets its unionid (when non-empty) and last_login_at to now. created
	// reports whether the row is new. Two concurrent calls for the same
	// openid yield one row.
	UpsertLogin(ctx context.Context, appid, openid, unionid string, now time.Time) (u *User, created bool, err error)
	// User returns the user with id in appid, or an Error with code not_found.
	User(ctx context.Context, appid string, id int64) (*User, error)
	// UserByOpenID returns the user, or an Error with code not_found.
	UserByOpenID(ctx context.Context, appid, openid string) (*User, error)
	// UpdateUser applies upd and returns the new user, or an Error with code not_found.
	UpdateUser(ctx context.Context, appid string, id int64, upd UserUpdate) (*User, error)
	// Users returns up to limit users of appid with id > afterID, in id order.
	Users(ctx context.Context, appid string, afterID int64, limit int) ([]*User, error)
}
