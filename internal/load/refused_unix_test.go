//go:build unix

package load

import (
	"fmt"
	"syscall"
	"testing"
)

// refusingAddr returns a loopback address that refuses connections for the
// whole test: a socket bound to a free port but never listening. Holding
// the port keeps other tests, which listen on 127.0.0.1:0 in parallel
// packages, from being handed it, as a closed listener's port could be.
func refusingAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}
