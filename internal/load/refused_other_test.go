//go:build !unix

package load

import (
	"net"
	"testing"
)

// refusingAddr returns a loopback address nobody listens on: the port of a
// listener closed at once (another process may take it meanwhile).
func refusingAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
