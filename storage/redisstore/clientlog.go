package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// ClientLog adapts l to go-redis's logger (redis.SetLogger), which is one
// for the whole process and by default writes plain text lines to standard
// error, among the JSON ones. What go-redis logs on its own (a failed dial,
// a connection dropped for unread data) is worth a warning: the store falls
// back to SQL meanwhile.
func ClientLog(l *slog.Logger) interface {
	Printf(ctx context.Context, format string, v ...any)
} {
	return clientLog{l}
}

type clientLog struct{ l *slog.Logger }

func (c clientLog) Printf(ctx context.Context, format string, v ...any) {
	c.l.WarnContext(ctx, "redis client", "detail", strings.TrimSpace(fmt.Sprintf(format, v...)))
}
