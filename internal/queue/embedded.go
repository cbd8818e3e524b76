package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startupTimeout bounds how long the embedded server may take to recover its
// storage and accept connections.
const startupTimeout = 30 * time.Second

// startEmbedded starts a single-node JetStream server storing under
// dataDir/nats. It listens on no port: the client connects in-process, so
// no other process on the machine can reach the queue.
func startEmbedded(dataDir string, log *slog.Logger) (*server.Server, error) {
	if dataDir == "" {
		return nil, errors.New("queue: embedded server needs a DataDir")
	}
	opts := &server.Options{
		ServerName: "miniback-embedded",
		DontListen: true,
		JetStream:  true,
		StoreDir:   filepath.Join(dataDir, "nats"),
		NoSigs:     true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("queue: embedded server: %w", err)
	}
	srv.SetLoggerV2(serverLogger{log.With("component", "nats-server")}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(startupTimeout) {
		srv.Shutdown()
		return nil, fmt.Errorf("queue: embedded server not ready after %s", startupTimeout)
	}
	return srv, nil
}

// serverLogger adapts slog to nats-server's Logger.
type serverLogger struct{ log *slog.Logger }

func (l serverLogger) logf(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if l.log.Enabled(ctx, level) {
		l.log.Log(ctx, level, fmt.Sprintf(format, v...))
	}
}

func (l serverLogger) Noticef(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }
func (l serverLogger) Warnf(format string, v ...any)   { l.logf(slog.LevelWarn, format, v) }
func (l serverLogger) Fatalf(format string, v ...any)  { l.logf(slog.LevelError, format, v) }
func (l serverLogger) Errorf(format string, v ...any)  { l.logf(slog.LevelError, format, v) }
func (l serverLogger) Debugf(format string, v ...any)  { l.logf(slog.LevelDebug-4, format, v) }
func (l serverLogger) Tracef(format string, v ...any)  { l.logf(slog.LevelDebug-8, format, v) }
