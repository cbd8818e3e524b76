//go:build unix

package main

import "syscall"

// privateUmask makes every file and folder the process creates from now
// on private to its user (0600 and 0700 where 0666 and 0777 are asked):
// data_dir holds user data, sealed session keys, signing keys and the
// embedded queue's messages, and some of them are created by libraries
// (SQLite's -wal and -shm, NATS's storage) with wider modes.
func privateUmask() { syscall.Umask(0o077) }
