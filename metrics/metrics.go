// Package metrics owns Sealpost's Prometheus metrics: one Registry per
// process (no global registry), the collectors that read the counters the
// observed packages already keep (netlimit's listeners, smtpserver's
// results, outbound's outcomes, authguard's Guard and Queue, a region's
// queue, the transparency log's size) at scrape time, the timing
// decorators over a region's sealpost.Store and sealpost.BlobStore, and
// the HTTP handler of /metrics.
//
// It imports the packages it observes; none of them imports it or
// Prometheus. Every label value comes from a fixed small set (listener
// names, regions from the configuration, results, reasons, operations):
// never an address, a name, a domain or a folder.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric of ours.
const namespace = "sealpost"

// latencyBuckets are the histograms' buckets, in seconds: 100 µs to
// about 26 s, by factors of four (a group commit's fsync is a few ms; an
// S3 round trip tens; a stall, seconds).
func latencyBuckets() []float64 { return prometheus.ExponentialBuckets(0.0001, 4, 10) }

// Registry is one process's metrics. It is safe for concurrent use.
type Registry struct {
	reg *prometheus.Registry

	storeOps  *prometheus.HistogramVec // region, op
	blobOps   *prometheus.HistogramVec // region, op
	argonWait prometheus.Histogram

	mu        sync.Mutex
	listeners []namedListener
	smtp      []namedSMTP
	queues    []regionQueue
}

// New returns a Registry with the process and Go runtime collectors and
// Sealpost's own.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.storeOps = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "store_operation_duration_seconds",
		Help:    "Time a region's metadata store took per operation, as the postbox sees it (through the residency guard).",
		Buckets: latencyBuckets(),
	}, []string{"region", "op"})
	r.blobOps = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "blob_operation_duration_seconds",
		Help:    "Time a region's blob store took per operation (commit: the durable end of a sealed write).",
		Buckets: latencyBuckets(),
	}, []string{"region", "op"})
	r.argonWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "argon2_queue_wait_seconds",
		Help:    "Time a password derivation waited for its place in the login queue.",
		Buckets: latencyBuckets(),
	})
	r.reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		r.storeOps, r.blobOps, r.argonWait,
		newListenerCollector(r), newSMTPCollector(r), newQueueCollector(r),
	)
	return r
}

// Handler serves the registry in the Prometheus exposition formats. A
// scrape that fails to gather is answered 500 rather than half a page.
func (r *Registry) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.HTTPErrorOnError,
		MaxRequestsInFlight: 4,
		Timeout:             30 * time.Second,
	}))
	return mux
}

// Gatherer is the registry, for tests and for other exporters.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// ArgonWaited records one wait in the login queue (authguard's
// QueueOptions.Waited).
func (r *Registry) ArgonWaited(d time.Duration) { r.argonWait.Observe(d.Seconds()) }

// gauge registers a gauge read from f at each scrape.
func (r *Registry) gauge(name, help string, labels prometheus.Labels, f func() float64) {
	r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: name, Help: help, ConstLabels: labels}, f))
}

// counter registers a counter read from f at each scrape.
func (r *Registry) counter(name, help string, labels prometheus.Labels, f func() float64) {
	r.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: namespace, Name: name, Help: help, ConstLabels: labels}, f))
}
