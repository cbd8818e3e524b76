// Package miniback holds the domain vocabulary of the miniback backend for
// WeChat Mini Programs: apps, users, sessions, the state store and the error
// type shared by every layer. It imports only the standard library;
// implementations live in packages named for what they wrap (internal/store/sqlite,
// internal/state/memory, wechat, …) and are wired together in cmd/miniback.
package miniback
