package metrics

import (
	"context"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DBCollector reports a database pool's statistics at each scrape:
// miniback_db_connections{state="in_use"|"idle"}, miniback_db_max_open_connections,
// miniback_db_wait_count_total and miniback_db_wait_seconds_total (waits
// for a free connection: the sign of an exhausted pool).
type DBCollector struct {
	// Stats returns the pool's statistics (sql.DB.Stats, or a sum over
	// the pools of one engine).
	Stats func() sql.DBStats
}

var (
	dbConnsDesc = prometheus.NewDesc("miniback_db_connections",
		"Database connections by state (in_use, idle).", []string{"state"}, nil)
	dbMaxDesc = prometheus.NewDesc("miniback_db_max_open_connections",
		"Maximum open database connections (0: unlimited).", nil, nil)
	dbWaitCountDesc = prometheus.NewDesc("miniback_db_wait_count_total",
		"Times a caller waited for a free database connection.", nil, nil)
	dbWaitSecondsDesc = prometheus.NewDesc("miniback_db_wait_seconds_total",
		"Time callers spent waiting for a free database connection.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c DBCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- dbConnsDesc
	ch <- dbMaxDesc
	ch <- dbWaitCountDesc
	ch <- dbWaitSecondsDesc
}

// Collect implements prometheus.Collector.
func (c DBCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.Stats()
	ch <- prometheus.MustNewConstMetric(dbConnsDesc, prometheus.GaugeValue, float64(s.InUse), "in_use")
	ch <- prometheus.MustNewConstMetric(dbConnsDesc, prometheus.GaugeValue, float64(s.Idle), "idle")
	ch <- prometheus.MustNewConstMetric(dbMaxDesc, prometheus.GaugeValue, float64(s.MaxOpenConnections))
	ch <- prometheus.MustNewConstMetric(dbWaitCountDesc, prometheus.CounterValue, float64(s.WaitCount))
	ch <- prometheus.MustNewConstMetric(dbWaitSecondsDesc, prometheus.CounterValue, s.WaitDuration.Seconds())
}

// QueueCollector reports miniback_queue_pending_messages{consumer} at each
// scrape, asking the queue with a short deadline. A consumer the queue
// cannot answer for is left out of that scrape rather than reported as 0.
type QueueCollector struct {
	Consumers []string
	Pending   func(ctx context.Context, consumer string) (uint64, error)
}

var queuePendingDesc = prometheus.NewDesc("miniback_queue_pending_messages",
	"Queue messages not yet acknowledged (waiting or in flight) by consumer.", []string{"consumer"}, nil)

// Describe implements prometheus.Collector.
func (c QueueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- queuePendingDesc }

// Collect implements prometheus.Collector.
func (c QueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, name := range c.Consumers {
		n, err := c.Pending(ctx, name)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(queuePendingDesc, prometheus.GaugeValue, float64(n), name)
	}
}
